"""Retrieval for answers: multi-part questions, identifiers as written, the optional reranker."""

from __future__ import annotations

import pytest

from genlab.retrieval.query import identifiers, question_parts
from genlab.retrieval.search import Searcher


@pytest.fixture(scope="module")
def course_index(session_home):
    import os

    from genlab.retrieval import CourseIndex
    from genlab.settings import get_settings

    os.environ["GENLAB_HOME"] = str(session_home)
    get_settings.cache_clear()
    return CourseIndex("faiss").open()[0]


@pytest.mark.parametrize(
    ("question", "parts"),
    [
        ("Which company made BERT and which year was it released?", 2),
        ("What is a GAN, and how does it work?", 2),
        ("How big is the small T5 model, as well as who made it?", 2),
        ("How do GANs and VAEs differ?", 0),  # one question about two things
        ("What is a VAE?", 0),
    ],
)
def test_questions_split_into_their_parts(question, parts):
    found = question_parts(question)
    assert len(found) == parts
    if len(found) > 1:
        assert "it" not in found[1].split()[-1:]  # a part that refers back borrows the subject


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What does cuda:0 mean?", ["cuda:0"]),
        ("Which checkpoint is runwayml/stable-diffusion-v1-5?", ["runwayml/stable-diffusion-v1-5"]),
        ("Why set torch_dtype=float16?", ["torch_dtype", "float16"]),
        ("What does `pipe.to` do?", ["pipe.to"]),
        ("What is GPT-3?", []),
    ],
)
def test_identifiers_are_found_as_written(question, expected):
    assert sorted(identifiers(question)) == sorted(expected)


def test_a_quoted_identifier_finds_the_passage_that_has_it(course_index):
    hits = Searcher(course_index).search("Where is cuda:0 chosen?", k=4)
    assert "cuda:0" in hits[0].chunk.text


def test_both_parts_of_a_two_part_question_reach_the_top_k(course_index):
    searcher = Searcher(course_index)
    question = "Which company created BERT, and what does the --chaos option do in MidJourney?"
    texts = [h.chunk.text for h in searcher.search(question, k=4)]
    assert any("BERT" in t and "Google" in t for t in texts) and any("--chaos" in t for t in texts)


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory):
    """A random cross-encoder (BERT, one output) with the MiniLM tokenizer, built offline."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    from genlab.settings import bundled_embedding_model

    folder = tmp_path_factory.mktemp("tiny-cross-encoder")
    tokenizer = BertTokenizer.from_pretrained(bundled_embedding_model())
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64
    )
    config.num_labels = 1  # one relevance score per (query, passage) pair
    BertForSequenceClassification(config).eval().save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


@pytest.mark.slow
def test_the_reranker_reorders_the_fused_candidates_and_keeps_k(course_index, tiny_cross_encoder):
    from sentence_transformers import CrossEncoder

    searcher = Searcher(course_index)
    encoder = CrossEncoder(tiny_cross_encoder)
    reordered = 0
    for question in ("How are GANs trained?", "What is a VAE?", "Which library loads Stable Diffusion?"):
        fused = searcher.search(question, k=20)
        hits = searcher.search(question, k=3, reranker=tiny_cross_encoder)
        assert len(hits) == 3 and all(h.rerank_score is not None for h in hits)
        scores = encoder.predict([(question, h.chunk.context_text) for h in fused])
        best = sorted(range(len(fused)), key=lambda i: -scores[i])[:3]
        assert [h.chunk.id for h in hits] == [fused[i].chunk.id for i in best]  # the cross-encoder's order
        assert [h.rerank_score for h in hits] == pytest.approx([float(scores[i]) for i in best], abs=1e-5)
        reordered += [h.chunk.id for h in hits] != [h.chunk.id for h in fused[:3]]
    assert reordered  # a random cross-encoder disagrees with the fusion somewhere


@pytest.mark.slow
def test_the_reranker_setting_reaches_retriever_and_answers(course_index, tiny_cross_encoder, monkeypatch):
    from genlab.models.status import reranker_status
    from genlab.retrieval import course_retriever
    from genlab.retrieval.qa import answer_question
    from genlab.settings import get_settings

    assert reranker_status().role == "reranker" and not reranker_status().available  # off by default
    monkeypatch.setenv("GENLAB_RERANKER_MODEL", tiny_cross_encoder)
    get_settings.cache_clear()
    try:
        docs = course_retriever(k=2).invoke("What is a VAE?")
        assert len(docs) == 2 and all("rerank_score" in d.metadata for d in docs)
        assert docs[0].metadata["rerank_score"] >= docs[1].metadata["rerank_score"]
        assert all("rerank_score" in s for s in answer_question("What is a VAE?", k=2)["sources"])
        status = reranker_status()
        assert status.role == "reranker" and status.available and status.model == tiny_cross_encoder
    finally:
        monkeypatch.delenv("GENLAB_RERANKER_MODEL")
        get_settings.cache_clear()


def test_genlab_models_shows_the_reranker(capsys):
    import json

    from cli_runner import run_cli

    code, out, _ = run_cli(["models", "--json"], capsys)
    assert code == 0 and json.loads(out)["reranker"]["role"] == "reranker"
