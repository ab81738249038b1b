"""A summarization / text2text pipeline for encoder-decoder models (t5-small, BART...).

transformers 5 removed the ``summarization`` and ``text2text-generation`` tasks, so the
course's ``pipeline("summarization")`` no longer exists. This is the small replacement the
library's own docs suggest: a :class:`transformers.Pipeline` subclass that tokenizes with
truncation, calls ``generate`` and decodes.
"""

from __future__ import annotations

from typing import Any, cast

from transformers import GenerationMixin, Pipeline


class Seq2SeqPipeline(Pipeline):
    """Encoder-decoder generation: ``pipe("summarize: ...")`` -> ``[{"generated_text": ...}]``.

    A ``prefix`` from the model's config (``task_specific_params["summarization"]["prefix"]``
    for T5) is prepended by the caller, not here, so the caller decides per task.
    """

    _load_processor = False
    _load_image_processor = False
    _load_feature_extractor = False
    _load_tokenizer = True

    def _sanitize_parameters(self, truncation: bool = True, max_input_tokens: int | None = None, **generate_kwargs: Any):
        preprocess = {"truncation": truncation, "max_input_tokens": max_input_tokens}
        return preprocess, {"generate_kwargs": generate_kwargs}, {}

    def preprocess(self, text: str, truncation: bool = True, max_input_tokens: int | None = None) -> dict[str, Any]:
        return self.tokenizer(
            text,
            return_tensors="pt",
            truncation=truncation,
            max_length=max_input_tokens or self.max_input_tokens,
        )

    def _forward(self, model_inputs: dict[str, Any], generate_kwargs: dict[str, Any] | None = None) -> dict[str, Any]:
        generate_kwargs = dict(generate_kwargs or {})
        config = getattr(self, "generation_config", None)
        if "generation_config" not in generate_kwargs and config is not None:
            generate_kwargs["generation_config"] = config
        model = cast(GenerationMixin, self.model)  # a *ForSeq2SeqLM model: it generates
        return {"output_ids": model.generate(**model_inputs, **generate_kwargs)}

    def postprocess(self, model_outputs: dict[str, Any]) -> list[dict[str, str]]:
        texts = self.tokenizer.batch_decode(model_outputs["output_ids"], skip_special_tokens=True)
        return [{"generated_text": text.strip()} for text in texts]

    @property
    def max_input_tokens(self) -> int:
        """The longest input the encoder takes, in tokens (512 for T5 when unspecified)."""
        limit = getattr(self.tokenizer, "model_max_length", None)
        if not limit or limit > 100_000:  # tokenizers without a limit report a huge sentinel
            limit = getattr(self.model.config, "n_positions", None) or 512
        return int(limit)
