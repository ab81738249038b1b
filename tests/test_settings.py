"""Settings: environment, genlab.toml, defaults, validation."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from genlab.settings import ROLES, Settings, bundled_embedding_model, get_settings


def test_defaults_are_the_documented_real_models():
    s = Settings()
    assert s.model_for("summary") == "google-t5/t5-small"
    assert s.model_for("zero_shot") == "cross-encoder/nli-deberta-v3-small"
    assert s.model_for("image") == "stable-diffusion-v1-5/stable-diffusion-v1-5"
    assert s.model_for("music") == "facebook/musicgen-small"
    assert s.model_for("chat") == s.model_for("text") == "Qwen/Qwen2.5-1.5B-Instruct"
    assert s.device == "auto" and s.dtype == "auto" and s.trust_remote_code is False


def test_few_shot_defaults_to_the_text_model():
    s = Settings(text_model="my/model")
    assert s.model_for("few_shot") == "my/model"
    assert Settings(text_model="a/b", few_shot_model="c/d").model_for("few_shot") == "c/d"


def test_embedding_defaults_to_the_bundled_minilm_folder():
    folder = Path(Settings().model_for("embedding"))
    assert folder == Path(bundled_embedding_model())
    assert (folder / "model.safetensors").is_file() and (folder / "modules.json").is_file()


def test_environment_variables_override(monkeypatch, tmp_path):
    monkeypatch.setenv("GENLAB_SUMMARY_MODEL", str(tmp_path))
    monkeypatch.setenv("GENLAB_DEVICE", "CPU")
    monkeypatch.setenv("GENLAB_OUTPUT_DIR", str(tmp_path / "out"))
    s = Settings()
    assert s.model_for("summary") == str(tmp_path)
    assert s.device == "cpu"
    assert s.outputs == tmp_path / "out"


def test_genlab_toml_is_read_and_env_wins(monkeypatch, tmp_path):
    (tmp_path / "genlab.toml").write_text('music_model = "toml/music"\nimage_model = "toml/image"\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GENLAB_IMAGE_MODEL", "env/image")
    s = Settings()
    assert s.music_model == "toml/music"
    assert s.image_model == "env/image"


def test_config_file_location_can_be_set(monkeypatch, tmp_path):
    config = tmp_path / "elsewhere.toml"
    config.write_text('store = "chroma"\n')
    monkeypatch.setenv("GENLAB_CONFIG", str(config))
    assert Settings().store == "chroma"


def test_outputs_default_under_home(monkeypatch, tmp_path):
    monkeypatch.setenv("GENLAB_HOME", str(tmp_path))
    assert Settings().outputs == tmp_path / "outputs"


@pytest.mark.parametrize(
    ("field", "value"),
    [("device", "tpu"), ("device", "cpu:1"), ("dtype", "int4"), ("store", "pinecone"), ("memory_budget_gb", "-1")],
)
def test_bad_values_are_rejected_with_what_is_allowed(monkeypatch, field, value):
    monkeypatch.setenv(f"GENLAB_{field.upper()}", value)
    with pytest.raises(ValidationError):
        Settings()


def test_unknown_role_is_an_error():
    with pytest.raises(ValueError, match="roles are"):
        Settings().model_for("video")
    assert len(ROLES) == 8


def test_get_settings_is_cached_until_cleared(monkeypatch):
    first = get_settings()
    assert get_settings() is first
    monkeypatch.setenv("GENLAB_STORE", "chroma")
    get_settings.cache_clear()
    assert get_settings().store == "chroma"
