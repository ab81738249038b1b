"""story_then_moderate and the write_story tool, driven by LangChain's fake LLMs and chat models."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from langchain_core.language_models import LLM
from langchain_core.language_models.fake import FakeListLLM
from langchain_core.language_models.fake_chat_models import FakeListChatModel, GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.tools import BaseTool
from pydantic import Field

from genlab.chains import ZeroShotModerator, make_write_story_tool, story_then_moderate
from genlab.chains.prompts import COURSE_STORY_EXAMPLE
from genlab.errors import InvalidInputError

INPUTS = dict(COURSE_STORY_EXAMPLE)


class RecordingLLM(FakeListLLM):
    """A FakeListLLM that remembers the prompts it was given."""

    prompts: list[str] = Field(default_factory=list)

    def _call(self, prompt: str, stop: Any = None, run_manager: Any = None, **kwargs: Any) -> str:
        self.prompts.append(prompt)
        return super()._call(prompt, stop, run_manager, **kwargs)


class FunctionLLM(LLM):
    """An LLM whose answer is a function of its prompt: order-independent, for batches."""

    answer: Callable[[str], str]
    prompts: list[str] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "function"

    def _call(self, prompt: str, stop: Any = None, run_manager: Any = None, **kwargs: Any) -> str:
        self.prompts.append(prompt)
        return self.answer(prompt)


def story_of(prompt: str) -> str:
    """The story text inside a moderation prompt."""
    return prompt.split('"""\n', 1)[1].split('\n"""', 1)[0]


# -- the outcomes the issue lists --------------------------------------------------------------


def test_approved_story() -> None:
    story = RecordingLLM(responses=["The adventurer found a crystal and made friends."])
    moderator = RecordingLLM(responses=["Yes, this story is kid-friendly."])
    result = story_then_moderate(story, moderator).invoke(INPUTS)
    assert result["kid_friendly"] is True
    assert result["story"] == "The adventurer found a crystal and made friends."
    assert result["verdict"] == "Kid-friendly. Moderator LLM said yes: this story is kid-friendly."
    assert result["attempts"] == [{"story": result["story"], "kid_friendly": True, "verdict": result["verdict"]}]
    # The story prompt is the course's template, filled in; the moderator saw exactly the story.
    assert "Once upon a time, in a enchanted forest, there lived a brave adventurer." in story.prompts[0]
    assert "discovered a glowing crystal that had the power to grant wishes" in story.prompts[0]
    assert moderator.prompts[0].startswith("Is the following story kid-friendly?")
    assert story_of(moderator.prompts[0]) == result["story"]


def test_rejected_story_reports_the_reason() -> None:
    chain = story_then_moderate(
        FakeListLLM(responses=["The adventurer fought the troll to the death."]),
        FakeListLLM(responses=["No. It describes violence."]),
    )
    result = chain.invoke(INPUTS)
    assert result["kid_friendly"] is False
    assert result["verdict"] == "Not kid-friendly. Moderator LLM said no: It describes violence."
    assert len(result["attempts"]) == 1


@pytest.mark.parametrize(
    "answer",
    [
        "The story features an adventurer and a crystal, and in many ways yes it could be fine.",
        "Yes and no.",
        "Yes... however it is not suitable for young children.",
    ],
)
def test_unreadable_verdict_fails_closed(answer: str) -> None:
    chain = story_then_moderate(FakeListLLM(responses=["A story."]), FakeListLLM(responses=[answer]))
    result = chain.invoke(INPUTS)
    assert result["kid_friendly"] is False
    assert "unreadable" in result["verdict"]


@pytest.mark.parametrize("answer", ["", "   \n  "])
def test_empty_verdict_fails_closed(answer: str) -> None:
    result = story_then_moderate(FakeListLLM(responses=["A story."]), FakeListLLM(responses=[answer])).invoke(INPUTS)
    assert result["kid_friendly"] is False
    assert "unreadable" in result["verdict"] and "empty" in result["verdict"]


def test_rewrite_succeeds_on_the_second_attempt() -> None:
    story = RecordingLLM(responses=["The troll was slain in a bloody fight.", "The troll and the adventurer shared a picnic."])
    moderator = RecordingLLM(responses=["No. It describes a bloody fight.", "Yes, it is gentle and kind."])
    result = story_then_moderate(story, moderator, max_rewrites=2).invoke(INPUTS)
    assert result["kid_friendly"] is True
    assert result["story"] == "The troll and the adventurer shared a picnic."
    assert [a["kid_friendly"] for a in result["attempts"]] == [False, True]
    assert result["attempts"][0]["story"] == "The troll was slain in a bloody fight."
    # The rewrite request carries the rejected story and the moderator's reason.
    rewrite = story.prompts[1]
    assert "It describes a bloody fight." in rewrite
    assert "The troll was slain in a bloody fight." in rewrite
    assert "glowing crystal" in rewrite
    # Approved means approved *this* text: the moderator's last prompt holds the final story.
    assert story_of(moderator.prompts[-1]) == result["story"]
    assert len(story.prompts) == 2 and len(moderator.prompts) == 2  # stopped once approved


def test_rewrites_exhausted_stays_rejected() -> None:
    story = RecordingLLM(responses=["Scary 1.", "Scary 2.", "Scary 3."])
    moderator = RecordingLLM(responses=["No. Too scary.", "No, still scary.", "No: a monster eats people."])
    result = story_then_moderate(story, moderator, max_rewrites=2).invoke(INPUTS)
    assert result["kid_friendly"] is False
    assert result["story"] == "Scary 3."
    assert [a["story"] for a in result["attempts"]] == ["Scary 1.", "Scary 2.", "Scary 3."]
    assert result["verdict"] == (
        "Gave up after 3 versions (max_rewrites=2): every one was rejected. "
        "Not kid-friendly. Moderator LLM said no: a monster eats people."
    )
    assert len(story.prompts) == 3 and len(moderator.prompts) == 3


def test_a_moderator_that_says_no_to_everything_is_named_as_such() -> None:
    # What SmolLM2-135M-Instruct does: "No." to every story, whatever it says.
    story = RecordingLLM(responses=["A kind fox.", "A kinder fox.", "The kindest fox."])
    moderator = RecordingLLM(responses=["No.", "No.", "No."])
    result = story_then_moderate(story, moderator, max_rewrites=2).invoke(INPUTS)
    assert result["kid_friendly"] is False and len(result["attempts"]) == 3
    assert "same answer to every version ('No.')" in result["verdict"] and "larger moderator model" in result["verdict"]


def test_without_rewrites_a_rejection_is_final() -> None:
    story = RecordingLLM(responses=["Scary.", "Nice."])
    result = story_then_moderate(story, FakeListLLM(responses=["No. Scary."])).invoke(INPUTS)
    assert result["kid_friendly"] is False and len(story.prompts) == 1


def test_empty_story_is_not_approved_and_is_drafted_again() -> None:
    story = RecordingLLM(responses=["   ", "A kind story."])
    moderator = RecordingLLM(responses=["Yes, fine."])
    result = story_then_moderate(story, moderator, max_rewrites=1).invoke(INPUTS)
    assert result["attempts"][0] == {
        "story": "",
        "kid_friendly": False,
        "verdict": "Not kid-friendly. The story model returned an empty story.",
    }
    assert result["kid_friendly"] is True and result["story"] == "A kind story."
    assert story.prompts[1] == story.prompts[0]  # drafted from the template again, not "rewritten"
    assert len(moderator.prompts) == 1  # nobody was asked about the empty draft


# -- the classifier's second opinion ----------------------------------------------------------


def scores(suitable: float) -> dict[str, Any]:
    pairs = sorted([("suitable for children", suitable), ("unsuitable for children", 1 - suitable)], key=lambda p: -p[1])
    return {"labels": [p[0] for p in pairs], "scores": [p[1] for p in pairs]}


def test_classifier_veto() -> None:
    seen: list[tuple[str, list[str]]] = []

    def classifier(text: str, labels: list[str]) -> dict[str, Any]:
        seen.append((text, labels))
        return scores(0.2)

    story = RecordingLLM(responses=["A gloomy tale.", "A sunny tale."])
    chain = story_then_moderate(story, FakeListLLM(responses=["Yes, it is fine."]), classifier=classifier, max_rewrites=1)
    result = chain.invoke(INPUTS)
    assert result["kid_friendly"] is False
    assert "Moderator LLM said yes" in result["verdict"]
    assert "Classifier: no ('unsuitable for children' 0.80, 'suitable for children' 0.20)" in result["verdict"]
    assert seen[0] == ("A gloomy tale.", ["suitable for children", "unsuitable for children"])
    assert "a classifier judged it unsuitable for children" in story.prompts[1]  # the veto's reason goes to the rewrite


def test_classifier_and_llm_must_both_approve() -> None:
    chain = story_then_moderate(
        FakeListLLM(responses=["A sunny tale."]), FakeListLLM(responses=["Yes."]), classifier=lambda text, labels: scores(0.9)
    )
    result = chain.invoke(INPUTS)
    assert result["kid_friendly"] is True
    assert "Classifier: yes" in result["verdict"]

    vetoed_by_llm = story_then_moderate(
        FakeListLLM(responses=["A tale."]), FakeListLLM(responses=["No, violent."]), classifier=lambda text, labels: scores(0.9)
    ).invoke(INPUTS)
    assert vetoed_by_llm["kid_friendly"] is False


@pytest.mark.parametrize(("suitable", "approved"), [(0.95, True), (0.6, True), (0.55, False), (0.5, False), (0.3, False)])
def test_an_undecided_classifier_does_not_approve(suitable: float, approved: bool) -> None:
    chain = story_then_moderate(
        FakeListLLM(responses=["A tale."]), FakeListLLM(responses=["Yes."]), classifier=lambda text, labels: scores(suitable)
    )
    assert chain.invoke(INPUTS)["kid_friendly"] is approved


def test_classifier_output_it_cannot_read_fails_closed() -> None:
    chain = story_then_moderate(
        FakeListLLM(responses=["A tale."]), FakeListLLM(responses=["Yes."]), classifier=lambda text, labels: "model not available"
    )
    result = chain.invoke(INPUTS)
    assert result["kid_friendly"] is False
    assert "unreadable classifier output" in result["verdict"]


def test_classifier_can_be_a_tool_taking_the_zero_shot_arguments() -> None:
    from langchain_core.tools import tool

    @tool
    def classify_zero_shot(text: str, labels: list[str], multi_label: bool = False) -> dict:
        """Score labels."""
        assert multi_label is False
        return scores(0.7) if "sunny" in text else scores(0.1)

    moderator = ZeroShotModerator(classifier=classify_zero_shot, threshold=0.6)
    chain = story_then_moderate(FakeListLLM(responses=["A sunny tale."]), FakeListLLM(responses=["Yes."]), classifier=moderator)
    assert chain.invoke(INPUTS)["kid_friendly"] is True


# -- LCEL interface: chat models, batch, async, stream ------------------------------------------


def test_works_with_chat_models() -> None:
    chain = story_then_moderate(
        FakeListChatModel(responses=["A kind story about a crystal."]),
        GenericFakeChatModel(messages=iter([AIMessage(content='```json\n{"kid_friendly": true, "reason": "kind"}\n```')])),
    )
    result = chain.invoke(INPUTS)
    assert result == {
        "story": "A kind story about a crystal.",
        "kid_friendly": True,
        "verdict": "Kid-friendly. Moderator LLM said yes: kind.",
        "attempts": [
            {
                "story": "A kind story about a crystal.",
                "kid_friendly": True,
                "verdict": "Kid-friendly. Moderator LLM said yes: kind.",
            }
        ],
    }


def _story_for(prompt: str) -> str:
    if "Kid-friendly story:" in prompt:  # a rewrite
        return "A gentle rewrite about " + prompt.split("keep the ", 1)[1].split(",", 1)[0] + "."
    character = prompt.split("there lived a ", 1)[1].split(".", 1)[0]
    return f"A {'dark' if 'pirate' in character else 'bright'} tale of a {character}."


def _moderate(prompt: str) -> str:
    story = story_of(prompt)
    if "dark" in story:
        return "No. It is dark."
    if "robot" in story:
        return "Hmm, hard to say."
    return "Yes, it is bright."


def test_batch_of_several_inputs_runs_each_stage_once() -> None:
    story, moderator = FunctionLLM(answer=_story_for), FunctionLLM(answer=_moderate)
    chain = story_then_moderate(story, moderator, max_rewrites=1)
    inputs = [dict(INPUTS, character=c) for c in ("young girl", "pirate", "robot", "wizard")]
    results = chain.batch(inputs)
    assert [r["kid_friendly"] for r in results] == [True, True, False, True]
    assert results[0]["story"] == "A bright tale of a young girl."
    assert results[1]["story"] == "A gentle rewrite about pirate." and len(results[1]["attempts"]) == 2
    assert "unreadable" in results[2]["verdict"] and len(results[2]["attempts"]) == 2
    assert len(results[3]["attempts"]) == 1
    # 4 drafts + 2 rewrites; 4 + 2 moderations: rejected ones only go round again.
    assert len(story.prompts) == 6 and len(moderator.prompts) == 6


def test_batch_reports_a_bad_input_without_losing_the_others() -> None:
    chain = story_then_moderate(FunctionLLM(answer=_story_for), FunctionLLM(answer=_moderate))
    good, bad = dict(INPUTS, character="young girl"), {k: v for k, v in INPUTS.items() if k != "outcome"}
    results = chain.batch([good, bad], return_exceptions=True)
    assert results[0]["kid_friendly"] is True
    assert isinstance(results[1], InvalidInputError) and "outcome" in str(results[1])
    with pytest.raises(InvalidInputError, match="outcome"):
        chain.batch([good, bad])


def test_ainvoke_and_abatch() -> None:
    chain = story_then_moderate(FunctionLLM(answer=_story_for), FunctionLLM(answer=_moderate), max_rewrites=1)

    async def run() -> tuple[Any, Any]:
        one = await chain.ainvoke(dict(INPUTS, character="pirate"))
        many = await chain.abatch([dict(INPUTS, character="young girl"), dict(INPUTS, character="robot")])
        return one, many

    one, many = asyncio.run(run())
    assert one["kid_friendly"] is True and len(one["attempts"]) == 2
    assert [r["kid_friendly"] for r in many] == [True, False]


def test_stream_yields_the_checked_result_once() -> None:
    chain = story_then_moderate(FakeListLLM(responses=["A tale."]), FakeListLLM(responses=["Yes."]))
    chunks = list(chain.stream(INPUTS))
    assert len(chunks) == 1 and chunks[0]["kid_friendly"] is True


def test_composes_with_lcel_and_reports_its_schemas() -> None:
    from langchain_core.runnables import RunnableLambda

    chain = story_then_moderate(FakeListLLM(responses=["A tale."]), FakeListLLM(responses=["Yes."]))
    composed = RunnableLambda(lambda name: dict(INPUTS, character=name)) | chain | RunnableLambda(lambda r: r["story"])
    assert composed.invoke("young girl") == "A tale."
    assert set(chain.get_input_schema().model_fields) == set(INPUTS)
    assert set(chain.get_output_schema().model_fields) == {"story", "kid_friendly", "verdict", "attempts"}


def test_callbacks_see_one_run_per_input_with_child_runs() -> None:
    from langchain_core.tracers.context import collect_runs

    chain = story_then_moderate(FunctionLLM(answer=_story_for), FunctionLLM(answer=_moderate))
    with collect_runs() as collector:
        chain.batch([dict(INPUTS, character="young girl"), dict(INPUTS, character="wizard")])
    roots = collector.traced_runs
    assert [r.name for r in roots] == ["story_then_moderate", "story_then_moderate"]
    names = {child.name for child in roots[0].child_runs}
    assert {"write_story", "moderate_story"} <= names


# -- bad input ----------------------------------------------------------------------------------


def test_a_missing_variable_is_an_error_naming_it() -> None:
    chain = story_then_moderate(FakeListLLM(responses=["x"]), FakeListLLM(responses=["Yes"]))
    with pytest.raises(InvalidInputError, match=r"missing story variable: mysterious_object"):
        chain.invoke({k: v for k, v in INPUTS.items() if k != "mysterious_object"})
    with pytest.raises(InvalidInputError, match=r"missing story variables: action, outcome.*unexpected: actoin"):
        chain.invoke({**{k: v for k, v in INPUTS.items() if k not in ("action", "outcome")}, "actoin": "run"})


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({**INPUTS, "setting": "   "}, "setting: must not be blank"),
        ({**INPUTS, "character": "x" * 301}, "character"),
        ({**INPUTS, "action": 3}, "action"),
        ("a story please", "must be a mapping"),
    ],
)
def test_bad_values_are_refused_before_any_model_call(value: Any, message: str) -> None:
    story = RecordingLLM(responses=["x"])
    with pytest.raises(InvalidInputError, match=message):
        story_then_moderate(story, FakeListLLM(responses=["Yes"])).invoke(value)
    assert story.prompts == []


@pytest.mark.parametrize("bad", [-1, 11, 1.5, True])
def test_max_rewrites_must_be_in_range(bad: Any) -> None:
    with pytest.raises(InvalidInputError, match="max_rewrites must be a whole number from 0 to 10"):
        story_then_moderate(FakeListLLM(responses=["x"]), FakeListLLM(responses=["Yes"]), max_rewrites=bad)


def test_model_arguments_must_be_models() -> None:
    with pytest.raises(InvalidInputError, match="story_llm must be a LangChain LLM or chat model"):
        story_then_moderate("gpt2")
    with pytest.raises(InvalidInputError, match="classifier must be True"):
        story_then_moderate(FakeListLLM(responses=["x"]), FakeListLLM(responses=["x"]), classifier="nli")


# -- defaults are local models, loaded lazily ---------------------------------------------------


def test_building_with_defaults_loads_no_model() -> None:
    from genlab.models import get_runtime

    before = sum(get_runtime().load_counts.values())
    chain = story_then_moderate(classifier=True, max_rewrites=1)
    tool = make_write_story_tool()
    assert chain.story_llm is not None and tool.name == "write_story"
    assert sum(get_runtime().load_counts.values()) == before


def test_importing_the_default_tool_imports_no_model_library() -> None:
    code = (
        "import sys, json\nfrom genlab.chains import write_story, story_then_moderate\n"
        "story_then_moderate(classifier=True)\n"
        "print(json.dumps([m for m in ('torch', 'transformers', 'diffusers') if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_defaults_use_the_configured_local_models(tiny_env) -> None:
    """With the tiny random models, the chain really runs; random text is never approved."""
    from genlab.models import get_runtime

    chain = story_then_moderate(classifier=True)
    result = chain.invoke(INPUTS)
    assert result["kid_friendly"] is False  # a random model does not answer "Yes" consistently
    assert "Classifier:" in result["verdict"]
    assert get_runtime().is_loaded("text") and get_runtime().is_loaded("zero_shot")


# -- the write_story tool -----------------------------------------------------------------------


def test_write_story_tool_returns_an_approved_story() -> None:
    story = RecordingLLM(responses=["A kind tale."])
    tool = make_write_story_tool(story, FakeListLLM(responses=["Yes, lovely."]))
    assert isinstance(tool, BaseTool) and tool.name == "write_story"
    assert set(tool.args) == set(INPUTS)
    out = tool.invoke({"character": "young girl"})
    assert out.startswith("A kind tale.") and "Kid-friendly." in out
    assert "there lived a young girl" in story.prompts[0] and "enchanted forest" in story.prompts[0]  # defaults filled in


def test_write_story_tool_never_returns_a_rejected_story() -> None:
    tool = make_write_story_tool(
        FakeListLLM(responses=["A gory tale.", "A gorier tale."]), FakeListLLM(responses=["No. Gore."]), max_rewrites=1
    )
    out = tool.invoke({})
    assert "gory" not in out.lower()
    assert out.startswith("I could not write a story that passed the kid-friendly check (2 attempts)")
    assert "Gore." in out


def test_write_story_tool_raises_on_bad_arguments_from_python() -> None:
    """Like every genlab tool: called directly it raises one line; only the agent makes it a message."""
    from genlab.tools import ToolInputError

    tool = make_write_story_tool(FakeListLLM(responses=["x"]), FakeListLLM(responses=["Yes"]))
    with pytest.raises(ToolInputError) as caught:
        tool.invoke({"setting": "x" * 400})
    assert "setting" in str(caught.value) and "300" in str(caught.value) and "\n" not in str(caught.value)


def test_write_story_tool_async() -> None:
    tool = make_write_story_tool(FakeListLLM(responses=["A kind tale."]), FakeListLLM(responses=["Yes."]))
    assert asyncio.run(tool.ainvoke({})).startswith("A kind tale.")


def test_default_write_story_tool_is_exported_for_the_agent() -> None:
    from genlab.chains import WriteStoryTool, write_story

    assert isinstance(write_story, WriteStoryTool) and write_story.name == "write_story"
