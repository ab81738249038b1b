"""Bad input across the CLI and the Python API: exit code 2, one line saying what is allowed,
no traceback, nothing written.

Each row is (id, command line, environment, what the message must say). Files the rows refer
to are made by the `workspace` fixture; `{tmp}` in an argument is replaced by its path.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from genlab.cli import main

# fmt: off
CLI_CASES = [
    # prompts and texts
    ("image-empty-prompt",        ["image", ""],                                  {}, "prompt"),
    ("image-blank-prompt",        ["image", "   \n\t "],                          {}, "prompt"),
    ("music-empty-prompt",        ["music", ""],                                  {}, "prompt"),
    ("classify-empty-text",       ["classify", "  ", "--labels", "a,b"],          {}, "text"),
    ("story-empty-setting",       ["story", "--setting", " "],                    {}, "setting"),
    ("ask-empty-question",        ["ask", ""],                                    {}, "question"),
    ("ask-blank-question",        ["ask", "    "],                                {}, "question"),
    # sizes, steps, durations, counts
    ("image-width-not-8",         ["image", "a cat", "--width", "100"],           {}, "multiple of 8"),
    ("image-width-too-big",       ["image", "a cat", "--width", "4096"],          {}, "2048"),
    ("image-height-too-small",    ["image", "a cat", "--height", "32"],           {}, "64"),
    ("image-steps-zero",          ["image", "a cat", "--steps", "0"],             {}, "200"),
    ("image-steps-too-many",      ["image", "a cat", "--steps", "500"],           {}, "200"),
    ("image-no-images",           ["image", "a cat", "--num-images", "0"],        {}, "8"),
    ("image-too-many-images",     ["image", "a cat", "--num-images", "9"],        {}, "8"),
    ("image-negative-guidance",   ["image", "a cat", "--guidance", "-1"],         {}, "guidance"),
    ("music-zero-duration",       ["music", "jazz", "--duration", "0"],           {}, "60"),
    ("music-too-long",            ["music", "jazz", "--duration", "61"],          {}, "60"),
    ("music-negative-duration",   ["music", "jazz", "--duration", "-3"],          {}, "60"),
    ("summarize-max-words-zero",  ["summarize", "{tmp}/notes.txt", "--max-words", "0"], {}, "max_words"),
    ("story-negative-rewrites",   ["story", "--max-rewrites", "-1"],              {}, "rewrites"),
    ("ask-k-zero",                ["ask", "What is a GAN?", "--k", "0"],          {}, "k"),
    ("ask-k-negative",            ["ask", "What is a GAN?", "--k", "-2"],         {}, "k"),
    # labels
    ("classify-no-labels",        ["classify", "good food", "--labels", ""],      {}, "label"),
    ("classify-blank-label",      ["classify", "good food", "--labels", "a, ,b"], {}, "label"),
    ("classify-duplicate-labels", ["classify", "good food", "--labels", "pos,neg,pos"], {}, "more than once"),
    # stores
    ("ask-unknown-store",         ["ask", "What is a GAN?", "--store", "pinecone"], {}, "faiss"),
    ("index-unknown-store",       ["index", "--store", "pinecone"],               {}, "faiss"),
    ("env-unknown-store",         ["ask", "What is a GAN?"],                      {"GENLAB_STORE": "pinecone"}, "GENLAB_STORE"),
    # paths and files
    ("summarize-missing-file",    ["summarize", "{tmp}/missing.txt"],             {}, "no such file"),
    ("summarize-directory",       ["summarize", "{tmp}"],                         {}, "folder"),
    ("summarize-empty-file",      ["summarize", "{tmp}/empty.txt"],               {}, "whitespace"),
    ("summarize-binary-file",     ["summarize", "{tmp}/image.bin"],               {}, "text"),
    ("summarize-too-long",        ["summarize", "{tmp}/notes.txt"],               {"GENLAB_MAX_INPUT_CHARS": "100"}, "100"),
    ("index-missing-path",        ["index", "{tmp}/no-such-folder"],              {}, "no-such-folder"),
    ("ask-missing-questions",     ["ask", "--questions", "{tmp}/missing.txt"],    {}, "missing.txt"),
    ("ask-questions-is-folder",   ["ask", "--questions", "{tmp}"],                {}, "folder"),
    ("ask-empty-questions-file",  ["ask", "--questions", "{tmp}/empty.txt"],      {}, "question"),
    ("image-out-is-a-file",       ["image", "a cat", "--out", "{tmp}/notes.txt"], {"GENLAB_IMAGE_MODEL": "{image_model}"}, "notes.txt"),
    ("image-out-unwritable",      ["image", "a cat", "--out", "/proc/genlab-out"], {"GENLAB_IMAGE_MODEL": "{image_model}"}, "genlab-out"),
    # models
    ("image-model-missing",       ["image", "a cat", "--model", "{tmp}/no-model"], {}, "no such folder"),
    ("image-model-not-a-model",   ["image", "a cat", "--model", "{tmp}"],         {}, "not a model"),
    ("music-model-not-cached",    ["music", "jazz", "--model", "nobody/no-such-music-model"], {}, "not in the local Hugging Face cache"),
    ("summary-wrong-kind",        ["summarize", "{tmp}/notes.txt"],               {"GENLAB_SUMMARY_MODEL": "{image_model}"}, "wrong kind"),
    ("zero-shot-wrong-kind",      ["classify", "good", "--labels", "a,b"],        {"GENLAB_ZERO_SHOT_MODEL": "{t5_model}"}, "entailment"),
    ("bad-device-setting",        ["models"],                                     {"GENLAB_DEVICE": "tpu"}, "GENLAB_DEVICE"),
    ("unknown-role",              ["models", "--load", "video"],                  {}, "roles are"),
    # settings: each one line naming the setting, its value and what is allowed
    ("toml-malformed",            ["models", "--load", "summary"],                {"GENLAB_CONFIG": "{tmp}/bad.toml"}, "not valid TOML"),
    ("toml-unclosed-string",      ["models", "--load", "summary"],                {"GENLAB_CONFIG": "{tmp}/unclosed.toml"}, "not valid TOML"),
    ("toml-not-utf8",             ["models", "--load", "summary"],                {"GENLAB_CONFIG": "{tmp}/latin1.toml"}, "not UTF-8"),
    ("toml-wrong-type",           ["models", "--load", "summary"],                {"GENLAB_CONFIG": "{tmp}/wrongtype.toml"}, "max_input_chars in genlab.toml"),
    ("config-missing-file",       ["models", "--load", "summary"],                {"GENLAB_CONFIG": "{tmp}/nope.toml"}, "does not exist"),
    ("config-is-a-folder",        ["models", "--load", "summary"],                {"GENLAB_CONFIG": "{tmp}"}, "is a folder"),
    ("memory-budget-inf",         ["models", "--load", "summary"],                {"GENLAB_MEMORY_BUDGET_GB": "inf"}, "finite"),
    ("memory-budget-minus-inf",   ["models", "--load", "summary"],                {"GENLAB_MEMORY_BUDGET_GB": "-inf"}, "GENLAB_MEMORY_BUDGET_GB"),
    ("memory-budget-nan",         ["models", "--load", "summary"],                {"GENLAB_MEMORY_BUDGET_GB": "nan"}, "'nan'"),
    ("memory-budget-words",       ["models", "--load", "summary"],                {"GENLAB_MEMORY_BUDGET_GB": "lots"}, "'lots'"),
    ("memory-budget-zero",        ["models", "--load", "summary"],                {"GENLAB_MEMORY_BUDGET_GB": "0"}, "greater than 0"),
    ("device-cuda-letters",       ["models", "--load", "summary"],                {"GENLAB_DEVICE": "cuda:abc"}, "cuda:N"),
    ("device-cuda-empty-index",   ["models", "--load", "summary"],                {"GENLAB_DEVICE": "cuda:"}, "cuda:N"),
    ("device-two-colons",         ["models", "--load", "summary"],                {"GENLAB_DEVICE": "cuda:0:1"}, "'cuda:0:1'"),
    ("device-gpu",                ["models", "--load", "summary"],                {"GENLAB_DEVICE": "gpu"}, "auto, cpu"),
    ("device-mps-absent",         ["models", "--load", "summary"],                {"GENLAB_DEVICE": "mps"}, "no Apple MPS"),
    ("device-gpu-99",             ["models", "--load", "summary"],                {"GENLAB_DEVICE": "cuda:99"}, "GENLAB_DEVICE='cuda:99'"),
    ("home-is-a-file",            ["models", "--load", "summary"],                {"GENLAB_HOME": "{tmp}/notes.txt"}, "is a file"),
    ("home-under-a-file",         ["models", "--load", "summary"],                {"GENLAB_HOME": "{tmp}/notes.txt/home"}, "notes.txt is a file"),
    ("home-cannot-be-created",    ["models", "--load", "summary"],                {"GENLAB_HOME": "/proc/genlab-home"}, "cannot be created"),
    ("output-dir-is-a-file",      ["models", "--load", "summary"],                {"GENLAB_OUTPUT_DIR": "{tmp}/notes.txt"}, "GENLAB_OUTPUT_DIR"),
    ("model-weights-dangling",    ["models", "--load", "summary"],                {"GENLAB_SUMMARY_MODEL": "{tmp}/dangling-model"}, "cannot be read"),
    ("model-needs-remote-code",   ["models", "--load", "text"],                   {"GENLAB_TEXT_MODEL": "{tmp}/remote-code-model"}, "GENLAB_TRUST_REMOTE_CODE"),
    ("chat-factory-not-callable", ["chat"],                                       {"GENLAB_CHAT_FACTORY": "os:sep"}, "not a function"),
    ("chat-factory-raises",       ["chat"],                                       {"GENLAB_CHAT_FACTORY": "json:loads"}, "the factory raised TypeError"),
    ("chat-factory-a-module",     ["chat"],                                       {"GENLAB_CHAT_FACTORY": "os:path"}, "not a function"),
    ("session-name-huge",         ["chat", "--session", "x" * 10_000],            {}, "10,000 characters"),
    ("session-name-control",      ["chat", "--session", "a\x1b]0;pwned\x07"],    {}, "not allowed"),
    ("delete-missing-session",    ["chat", "--delete", "nope"],                   {}, "no saved session"),
    # the command line itself
    ("unknown-command",           ["paint", "a cat"],                             {}, "No such command"),
    ("unknown-option",            ["image", "a cat", "--colour", "red"],          {}, "No such option"),
    ("option-not-a-number",       ["image", "a cat", "--steps", "many"],          {}, "steps"),
]
# fmt: on


@pytest.fixture
def workspace(tmp_path: Path, tiny_models, monkeypatch) -> Path:
    (tmp_path / "notes.txt").write_text("Diffusion models add noise and learn to remove it. " * 20, encoding="utf-8")
    (tmp_path / "empty.txt").write_text("   \n", encoding="utf-8")
    (tmp_path / "image.bin").write_bytes(bytes(range(256)) * 8)
    (tmp_path / "bad.toml").write_text("device = [\n", encoding="utf-8")
    (tmp_path / "unclosed.toml").write_text('home = "/tmp/x\n', encoding="utf-8")
    (tmp_path / "latin1.toml").write_bytes('home = "/tmp/caf\u00e9"\n'.encode("latin-1"))
    (tmp_path / "wrongtype.toml").write_text('max_input_chars = "many"\n', encoding="utf-8")
    dangling = tmp_path / "dangling-model"
    dangling.mkdir()
    (dangling / "config.json").write_text(Path(tiny_models.t5, "config.json").read_text())
    (dangling / "model.safetensors").symlink_to(tmp_path / "deleted-weights.safetensors")
    remote = tmp_path / "remote-code-model"
    remote.mkdir()
    (remote / "config.json").write_text(
        '{"model_type": "genlab-test-custom", "architectures": ["CustomForCausalLM"], '
        '"auto_map": {"AutoModelForCausalLM": "modeling_custom.CustomForCausalLM"}}'
    )
    (remote / "modeling_custom.py").write_text("raise SystemExit('remote code ran')\n")
    monkeypatch.setenv("GENLAB_OUTPUT_DIR", str(tmp_path / "outputs"))
    return tmp_path


def _fill(value: str, tmp: Path, tiny_models) -> str:
    return value.format(tmp=tmp, image_model=tiny_models.image, t5_model=tiny_models.t5)


def snapshot(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.mark.parametrize(("case", "argv", "env", "needle"), CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_bad_input(case, argv, env, needle, workspace, tiny_models, monkeypatch, capsys):
    from genlab.settings import get_settings

    monkeypatch.setenv("GENLAB_SUMMARY_MODEL", str(tiny_models.t5))
    monkeypatch.setattr("sys.stdin", open(os.devnull))  # `chat` reads no line from the test's stdin

    for name, value in env.items():
        monkeypatch.setenv(name, _fill(value, workspace, tiny_models))
    get_settings.cache_clear()
    before = snapshot(workspace)
    with pytest.raises(SystemExit) as info:
        main([_fill(a, workspace, tiny_models) for a in argv])
    captured = capsys.readouterr()
    assert info.value.code == 2, captured.err
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("genlab: error: ")
    assert "Traceback" not in captured.err and captured.out == ""
    assert needle.lower() in lines[0].lower()
    assert snapshot(workspace) == before, "nothing may be written on bad input"


def test_there_are_at_least_30_cases():
    assert len(CLI_CASES) + len(API_CASES) >= 30


# --- the Python API ---------------------------------------------------------------------------


def _api(name: str):
    def call():
        if name == "generate_image":
            from genlab.tools import generate_image

            return generate_image.invoke({"prompt": "a cat", "width": 100})
        if name == "generate_music":
            from genlab.tools import generate_music

            return generate_music.invoke({"prompt": "jazz", "duration_s": 120})
        if name == "summarize":
            from genlab.tools import summarize

            return summarize.invoke({"text": "   "})
        if name == "classify_zero_shot":
            from genlab.tools import classify_zero_shot

            return classify_zero_shot.invoke({"text": "tasty", "labels": ["a", "a"]})
        if name == "classify_few_shot":
            from genlab.tools import classify_few_shot

            return classify_few_shot.invoke({"text": "tasty", "labels": []})
        if name == "course_retriever":
            from genlab.retrieval import course_retriever

            return course_retriever(k=0)
        if name == "qa_chain":
            from genlab.retrieval import qa_chain

            return qa_chain(store="pinecone")
        if name == "load_llm":
            from genlab.models import load_llm

            return load_llm(max_new_tokens=0)
        raise AssertionError(name)

    return call


API_CASES = [
    ("generate_image", "multiple of 8"),
    ("generate_music", "60"),
    ("summarize", "whitespace"),
    ("classify_zero_shot", "more than once"),
    ("classify_few_shot", "label"),
    ("course_retriever", "k"),
    ("qa_chain", "faiss"),
    ("load_llm", "max_new_tokens"),
]


@pytest.mark.parametrize(("name", "needle"), API_CASES, ids=[c[0] for c in API_CASES])
def test_python_api_bad_input(name, needle, tiny_env):
    """Tools answer bad arguments with their message as the result (what an agent sees) or a
    ToolException; other API functions raise InvalidInputError. No model is loaded to find out."""
    from genlab.errors import InvalidInputError
    from genlab.models import get_runtime

    loads_before = sum(get_runtime().load_counts.values())
    try:
        result = _api(name)()
    except InvalidInputError as exc:
        message = str(exc)
    except Exception as exc:  # ToolException and pydantic's ValidationError for tools
        from langchain_core.tools import ToolException
        from pydantic import ValidationError

        assert isinstance(exc, (ToolException, ValidationError)), repr(exc)
        message = str(exc)
    else:
        message = str(result)
    assert needle.lower() in message.lower()
    assert "\n" not in message.strip() or name in {"generate_image", "generate_music"}
    assert sum(get_runtime().load_counts.values()) == loads_before


def test_environment_is_left_clean():
    assert "GENLAB_MAX_INPUT_CHARS" not in os.environ
