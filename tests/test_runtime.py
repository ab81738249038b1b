"""The model runtime: device/dtype, load-once sharing, concurrency, errors, unload, memory budget."""

from __future__ import annotations

import threading

import pytest
import torch

from genlab.errors import ModelUnavailableError
from genlab.models import loaders
from genlab.models.device import resolve_device, resolve_dtype
from genlab.models.runtime import ModelRuntime
from genlab.models.seq2seq import Seq2SeqPipeline
from genlab.settings import Settings


def runtime_for(tiny_models, **overrides) -> ModelRuntime:
    fields = {
        "text_model": str(tiny_models.causal),
        "chat_model": str(tiny_models.chat),
        "summary_model": str(tiny_models.t5),
        "zero_shot_model": str(tiny_models.nli),
        "image_model": str(tiny_models.image),
        "music_model": str(tiny_models.music),
        "device": "cpu",
    }
    fields.update(overrides)
    return ModelRuntime(Settings(**fields))


# --- device and dtype -------------------------------------------------------------------------


def test_auto_device_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_device("auto") == "mps"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == "cuda"


def test_explicit_device_is_kept():
    from genlab.errors import ConfigError

    assert resolve_device("cpu") == "cpu"
    if torch.cuda.device_count() > 1:
        assert resolve_device("cuda:1") == "cuda:1"
    else:  # a device this machine does not have is a configuration error naming the setting
        with pytest.raises(ConfigError, match="GENLAB_DEVICE='cuda:1'"):
            resolve_device("cuda:1")


def test_auto_dtype_is_half_on_gpu_and_full_on_cpu():
    assert resolve_dtype("auto", "cpu") is torch.float32
    assert resolve_dtype("auto", "cuda") is torch.float16
    assert resolve_dtype("auto", "mps") is torch.float16
    assert resolve_dtype("bfloat16", "cpu") is torch.bfloat16


# --- loading and sharing ----------------------------------------------------------------------


def test_each_role_loads_the_right_kind_of_pipeline(tiny_models):
    runtime = runtime_for(tiny_models)
    summary = runtime.get("summary")
    assert isinstance(summary, Seq2SeqPipeline)
    assert summary("summarize: the cat is a story", max_new_tokens=5)[0]["generated_text"].strip()
    assert runtime.get("zero_shot").task == "zero-shot-classification"
    assert runtime.get("music").task == "text-to-audio"
    assert type(runtime.get("image")).__name__ == "StableDiffusionPipeline"
    text = runtime.get("text")
    assert text.task == "text-generation" and text.tokenizer.padding_side == "left"
    assert text.tokenizer.pad_token is not None


def test_nothing_loads_until_asked(tiny_models):
    runtime = runtime_for(tiny_models)
    assert runtime.loaded() == []
    assert not runtime.is_loaded("summary")
    runtime.get("summary")
    assert runtime.is_loaded("summary")
    assert [m.role for m in runtime.loaded()] == ["summary"]


def test_a_model_is_loaded_once_and_shared_between_roles(tiny_models):
    runtime = runtime_for(tiny_models, few_shot_model=str(tiny_models.causal))
    first = runtime.get("text")
    assert runtime.get("text") is first
    assert runtime.get("few_shot") is first  # same model, other role: one object
    assert sum(runtime.load_counts.values()) == 1


def test_concurrent_first_use_loads_once(tiny_models, monkeypatch):
    runtime = runtime_for(tiny_models)
    calls = []
    real = loaders.LOADERS["zero-shot-classification"]

    def slow_loader(*args):
        calls.append(1)
        threading.Event().wait(0.2)  # widen the race window
        return real(*args)

    monkeypatch.setitem(loaders.LOADERS, "zero-shot-classification", slow_loader)
    results, errors = [], []

    def worker():
        try:
            results.append(runtime.get("zero_shot"))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(calls) == 1
    assert len({id(r) for r in results}) == 1 and len(results) == 8


def test_unload_frees_and_next_use_reloads(tiny_models):
    runtime = runtime_for(tiny_models)
    first = runtime.get("summary")
    runtime.get("zero_shot")
    assert runtime.unload(str(tiny_models.t5.resolve())) == 1
    assert [m.role for m in runtime.loaded()] == ["zero_shot"]
    assert runtime.get("summary") is not first
    assert runtime.unload() == 2
    assert runtime.loaded() == []


def test_loaded_reports_size_device_and_dtype(tiny_models):
    runtime = runtime_for(tiny_models)
    runtime.get("summary")
    (info,) = runtime.loaded()
    assert info.kind == "seq2seq" and info.device == "cpu" and info.dtype == "float32"
    assert info.bytes > 10_000


def test_remote_code_is_never_trusted_by_default(tiny_models, monkeypatch):
    seen = []
    monkeypatch.setitem(loaders.LOADERS, "seq2seq", lambda src, dev, dt, trust: seen.append(trust) or object())
    runtime_for(tiny_models).get("summary")
    runtime_for(tiny_models, trust_remote_code=True).get("summary")
    assert seen == [False, True]


# --- memory budget ----------------------------------------------------------------------------


def test_memory_budget_unloads_the_least_recently_used(tiny_models):
    probe = runtime_for(tiny_models)
    sizes = {role: (probe.get(role), probe.loaded()[0].bytes)[1] for role in ("summary", "zero_shot", "music")}
    # room for the two largest, not for all three
    budget = (sum(sizes.values()) - min(sizes.values()) / 2) / 1024**3
    runtime = runtime_for(tiny_models, memory_budget_gb=budget)
    runtime.get("summary")
    runtime.get("zero_shot")
    runtime.get("summary")  # now zero_shot is the least recently used
    runtime.get("music")
    held = {m.role for m in runtime.loaded()}
    assert "music" in held and "summary" in held and "zero_shot" not in held


def test_out_of_memory_on_load_unloads_others_and_retries(tiny_models, monkeypatch):
    runtime = runtime_for(tiny_models)
    runtime.get("zero_shot")
    real = loaders.LOADERS["seq2seq"]
    attempts = []

    def flaky(*args):
        attempts.append(len(runtime.loaded()))
        if len(attempts) == 1:
            raise torch.OutOfMemoryError("CUDA out of memory")
        return real(*args)

    monkeypatch.setitem(loaders.LOADERS, "seq2seq", flaky)
    runtime.get("summary")
    assert attempts == [1, 0]  # the retry ran after zero_shot was unloaded
    assert [m.role for m in runtime.loaded()] == ["summary"]


# --- errors -----------------------------------------------------------------------------------


def test_missing_folder_names_role_id_and_fix(tmp_path, tiny_models):
    runtime = runtime_for(tiny_models, summary_model=str(tmp_path / "nope"))
    with pytest.raises(ModelUnavailableError) as info:
        runtime.get("summary")
    message = str(info.value)
    assert "summary model" in message and str(tmp_path / "nope") in message
    assert "no such folder" in message and "set GENLAB_SUMMARY_MODEL to a folder" in message


def test_folder_that_is_not_a_model(tmp_path, tiny_models):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ModelUnavailableError, match="not a model"):
        runtime_for(tiny_models, image_model=str(tmp_path)).get("image")


def test_a_file_is_not_a_model_folder(tmp_path, tiny_models):
    file = tmp_path / "model.bin"
    file.write_bytes(b"\0" * 10)
    with pytest.raises(ModelUnavailableError, match="a file, not a model folder"):
        runtime_for(tiny_models, music_model=str(file)).get("music")


@pytest.mark.parametrize(
    ("role", "wrong", "needs"),
    [
        ("summary", "image", "seq2seq"),
        ("zero_shot", "t5", "entailment"),
        ("music", "nli", "MusicGen"),
        ("image", "causal", "diffusers"),
        ("text", "nli", "causal language model"),
    ],
)
def test_wrong_kind_of_model_for_the_role(tiny_models, role, wrong, needs):
    runtime = runtime_for(tiny_models, **{f"{role}_model": str(getattr(tiny_models, wrong))})
    with pytest.raises(ModelUnavailableError) as info:
        runtime.get(role)
    assert "wrong kind of model" in str(info.value) and needs in str(info.value)
    assert runtime.loaded() == []  # nothing heavy was loaded to find out


def test_hub_id_not_cached_while_offline(tiny_models):
    runtime = runtime_for(tiny_models, summary_model="some-org/not-a-real-model-xyz")
    with pytest.raises(ModelUnavailableError) as info:
        runtime.get("summary")
    message = str(info.value)
    assert "not in the local Hugging Face cache" in message
    assert "GENLAB_SUMMARY_MODEL" in message and "download it once" in message


def test_invalid_hub_id(tiny_models):
    with pytest.raises(ModelUnavailableError, match="neither an existing folder nor a valid hub id"):
        runtime_for(tiny_models, summary_model="not a model id!").get("summary")


def test_broken_weights_become_model_unavailable(tmp_path, tiny_models):
    import shutil

    broken = tmp_path / "broken-t5"
    shutil.copytree(tiny_models.t5, broken)
    for weights in broken.glob("*.safetensors"):
        weights.write_bytes(b"not safetensors")
    with pytest.raises(ModelUnavailableError, match="weight files are damaged"):
        runtime_for(tiny_models, summary_model=str(broken)).get("summary")


def test_pictures_without_the_image_extra_are_one_line_naming_it(tiny_env, monkeypatch, capsys):
    import sys

    from cli_runner import run_cli

    from genlab.models import get_runtime

    get_runtime().unload(str(tiny_env.image))  # the loader must run, not a model another test loaded
    monkeypatch.setitem(sys.modules, "diffusers", None)  # what `import diffusers` does when it is not installed
    code, stdout, stderr = run_cli(["image", "a red fox", "--width", "64", "--height", "64", "--steps", "2"], capsys)
    assert (code, stdout) == (2, "")
    assert stderr.count("\n") == 1 and "Traceback" not in stderr
    assert "diffusers library is not installed" in stderr and 'pip install "genlab[image]"' in stderr
