"""Retrieval on a tiny corpus, for the fast tier: the real indexing pipeline, store and search.

The bundled course takes 20-27 s per store to embed on a 2-core machine, so the tests on it
(tests/test_retrieval.py and others) are marked slow. These build a FAISS index of two short
documents in place of the bundled ones (the embedding model, chunker, BM25 index and on-disk
store are the real ones) and check the same behaviours in about a second each.
"""

from __future__ import annotations

import json

import pytest

from genlab.errors import IndexCorruptError
from genlab.retrieval import CourseIndex
from genlab.retrieval.search import Searcher

DOCUMENTS = {
    "gans.md": """# Generative adversarial networks

## Two networks
A GAN trains two networks against each other. The generator turns random noise into an image,
and the discriminator judges whether an image is real or generated. Each one improves by
beating the other.

## Translation without pairs
CycleGAN translates horses into zebras without paired examples, by asking that a round trip
returns the original image.
""",
    "diffusion.md": """# Diffusion models

## Forward process
Noise is added to an image step by step until only noise is left.

## Reverse process
A U-Net learns to predict the noise that was added, so that sampling can remove it one small
step at a time. The variance schedule decides how much noise each step adds.
""",
}


@pytest.fixture
def tiny_index(tmp_path, monkeypatch):
    """An index of DOCUMENTS standing in for the bundled course, in a private home."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in DOCUMENTS.items():
        (corpus / name).write_text(text)
    monkeypatch.setattr("genlab.retrieval.corpus.bundled_corpus_dir", lambda: corpus)
    index = CourseIndex("faiss", home=tmp_path / "home" / "index")
    report = index.sync()
    return index, report, tmp_path


def test_a_tiny_corpus_is_indexed_and_hybrid_search_finds_its_passages(tiny_index):
    index, report, _ = tiny_index
    version = index.load()
    assert report.changed and report.files == 2 and report.embedded == report.chunks == len(version.chunks) >= 4
    assert {c.source for c in version.chunks} == set(DOCUMENTS)
    searcher = Searcher(version)
    # A paraphrase with no shared keyword (dense's strength) and a rare exact term (BM25's).
    hits = searcher.search("Which network decides if a picture is fake?", k=2)
    assert len(hits) == 2 and "discriminator" in hits[0].chunk.text
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    keyword = searcher.search("CycleGAN zebras", k=2)
    assert "CycleGAN" in keyword[0].chunk.text and keyword[0].bm25_rank == 1


def test_a_second_run_embeds_nothing_and_a_changed_note_only_itself(tiny_index):
    index, first, tmp_path = tiny_index
    again = index.sync()
    assert again.embedded == 0 and not again.changed and again.chunks == first.chunks
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "lora.md").write_text("# LoRA\n\nLoRA fine-tunes a large model by training small low-rank matrices.\n")
    added = index.sync([str(notes)])
    assert added.embedded == 1 and added.chunks == first.chunks + 1 and added.files == 3
    (notes / "lora.md").write_text("# LoRA\n\nLoRA adds trainable rank-decomposition matrices to frozen weights.\n")
    changed = index.sync()
    assert changed.embedded == 1 and changed.removed == 1
    texts = [c.text for c in index.load().chunks]
    assert any("rank-decomposition" in t for t in texts) and not any("low-rank matrices" in t for t in texts)


def test_a_damaged_or_outdated_index_is_named_and_rebuilt(tiny_index):
    index, first, _ = tiny_index
    (index.load().folder / "chunks.json").write_text("{not json")
    with pytest.raises(IndexCorruptError, match="genlab index --rebuild"):
        index.load()
    version, report = index.open()
    assert report is not None and report.repaired and len(version.chunks) == first.chunks

    manifest = version.folder / "manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "format": 1}))
    with pytest.raises(IndexCorruptError, match=r"another genlab version \(format 1; this one reads format \d+\)"):
        index.load()
    version, report = index.open()
    assert report is not None and report.repaired and len(version.sentences) == len(version.sentence_vectors)


def test_qa_chain_declares_its_answer_and_every_answer_fits_it(tiny_index, monkeypatch):
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    from genlab.retrieval import CourseAnswer, qa_chain
    from genlab.settings import get_settings

    _, _, tmp_path = tiny_index
    monkeypatch.setenv("GENLAB_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    chain = qa_chain(k=2)
    assert chain.get_output_schema().model_json_schema()["title"] == "CourseAnswer"
    extractive = chain.invoke("What does the discriminator judge?")
    written = qa_chain(llm=FakeListChatModel(responses=["It judges real from generated images [1]."]), k=2).invoke(
        {"question": "What does the discriminator judge?"}
    )
    for result in (extractive, written):
        answer = CourseAnswer.model_validate(result)  # no missing, extra or mistyped field
        assert len(answer.sources) == 2 and "discriminator" in answer.sources[0].text
    assert (extractive["mode"], written["mode"], written["cited"]) == ("extractive", "llm", [1])
