"""Tiny randomly initialised models, built offline in a few seconds, for every kind genlab loads.

Each builder writes a model folder that loads through genlab's real loading code, exactly as a
downloaded checkpoint would. Sizes are minimal; outputs are random but deterministic (seeded).
"""

from __future__ import annotations

from pathlib import Path

QWEN_CHAT_TEMPLATE = (
    "{%- if tools %}"
    "{{- '<|im_start|>system\\n' }}"
    "{%- if messages[0]['role'] == 'system' %}{{- messages[0]['content'] }}"
    "{%- else %}{{- 'You are a helpful assistant.' }}{%- endif %}"
    "{{- '\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\n"
    "You are provided with function signatures within <tools></tools> XML tags:\\n<tools>' }}"
    "{%- for tool in tools %}{{- '\\n' }}{{- tool | tojson }}{%- endfor %}"
    "{{- '\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments "
    "within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\"name\": <function-name>, \"arguments\": "
    "<args-json-object>}\\n</tool_call><|im_end|>\\n' }}"
    "{%- else %}"
    "{%- if messages[0]['role'] == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- else %}{{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{%- endif %}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{%- if (message.role == 'user') or (message.role == 'system' and not loop.first) "
    "or (message.role == 'assistant' and not message.tool_calls) %}"
    "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}"
    "{%- elif message.role == 'assistant' %}"
    "{{- '<|im_start|>' + message.role }}"
    "{%- if message.content %}{{- '\\n' + message.content }}{%- endif %}"
    "{%- for tool_call in message.tool_calls %}"
    "{%- if tool_call.function is defined %}{%- set tool_call = tool_call.function %}{%- endif %}"
    "{{- '\\n<tool_call>\\n{\"name\": \"' }}{{- tool_call.name }}{{- '\", \"arguments\": ' }}"
    "{{- tool_call.arguments | tojson }}{{- '}\\n</tool_call>' }}"
    "{%- endfor %}"
    "{{- '<|im_end|>\\n' }}"
    "{%- elif message.role == 'tool' %}"
    "{%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != 'tool') %}{{- '<|im_start|>user' }}{%- endif %}"
    "{{- '\\n<tool_response>\\n' }}{{- message.content }}{{- '\\n</tool_response>' }}"
    "{%- if loop.last or (messages[loop.index0 + 1].role != 'tool') %}{{- '<|im_end|>\\n' }}{%- endif %}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
"""Qwen 2.5's chat template (abridged): renders tools into the system prompt, tool calls as
``<tool_call>`` JSON, tool results as ``<tool_response>``."""


def _byte_vocab() -> tuple[dict[str, int], list[str]]:
    from tokenizers.pre_tokenizers import ByteLevel

    symbols = sorted(ByteLevel.alphabet())
    return {s: i for i, s in enumerate(symbols)}, symbols


def build_causal_lm(folder: Path, *, chat: bool = False) -> Path:
    """A 2-layer Qwen2 (``chat=True``: with a tool-rendering chat template) or GPT-2 byte-level LM."""
    import torch

    torch.manual_seed(0)
    vocab, _ = _byte_vocab()
    if chat:
        from transformers import Qwen2Config, Qwen2ForCausalLM, Qwen2Tokenizer

        specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>"]
        for token in specials:
            vocab[token] = len(vocab)
        tokenizer = Qwen2Tokenizer(
            vocab=vocab,
            merges=[],
            unk_token=None,
            bos_token=None,
            eos_token="<|im_end|>",
            pad_token="<|endoftext|>",
        )
        tokenizer.add_special_tokens({"additional_special_tokens": specials[1:]})
        tokenizer.chat_template = QWEN_CHAT_TEMPLATE
        config = Qwen2Config(
            vocab_size=len(vocab),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=16384,  # rotary: no extra weights; fits 7 tool schemas
            eos_token_id=vocab["<|im_end|>"],
            pad_token_id=vocab["<|endoftext|>"],
            bos_token_id=None,
            tie_word_embeddings=True,
        )
        model = Qwen2ForCausalLM(config)
    else:
        from transformers import GPT2Config, GPT2LMHeadModel, GPT2Tokenizer

        vocab["<|endoftext|>"] = len(vocab)
        tokenizer = GPT2Tokenizer(
            vocab=vocab, merges=[], unk_token="<|endoftext|>", bos_token="<|endoftext|>", eos_token="<|endoftext|>"
        )
        config = GPT2Config(
            vocab_size=len(vocab),
            n_embd=32,
            n_layer=2,
            n_head=4,
            n_positions=1024,
            bos_token_id=vocab["<|endoftext|>"],
            eos_token_id=vocab["<|endoftext|>"],
        )
        model = GPT2LMHeadModel(config)
    model.eval()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def build_t5(folder: Path) -> Path:
    """A 2-layer T5 with a SentencePiece-free vocabulary; ``initializer_factor=5`` so it emits text."""
    import torch
    from transformers import T5Config, T5ForConditionalGeneration, T5Tokenizer

    torch.manual_seed(0)
    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    pieces += [(chr(c), -3.0) for c in range(ord("a"), ord("z") + 1)]
    pieces += [("▁" + w, -1.0) for w in "the a summarize of and to in is story model image music cat".split()]
    tokenizer = T5Tokenizer(vocab=pieces, extra_ids=0)
    tokenizer.model_max_length = 64
    config = T5Config(
        vocab_size=len(pieces),
        d_model=32,
        d_kv=8,
        d_ff=64,
        num_layers=2,
        num_heads=4,
        decoder_start_token_id=0,
        pad_token_id=0,
        eos_token_id=1,
        initializer_factor=5.0,
        task_specific_params={"summarization": {"prefix": "summarize: "}},
    )
    model = T5ForConditionalGeneration(config).eval()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def build_nli(folder: Path) -> Path:
    """A 2-layer BERT NLI classifier (entailment / neutral / contradiction) on MiniLM's vocabulary."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    from genlab.settings import bundled_embedding_model

    torch.manual_seed(0)
    tokenizer = BertTokenizer.from_pretrained(bundled_embedding_model())
    labels = ["contradiction", "entailment", "neutral"]
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    )
    model = BertForSequenceClassification(config).eval()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def build_musicgen(folder: Path) -> Path:
    """A tiny MusicGen: T5 text encoder, EnCodec audio codec, 2-layer decoder."""
    import torch
    from transformers import (
        AutoProcessor,
        EncodecConfig,
        MusicgenConfig,
        MusicgenDecoderConfig,
        MusicgenForConditionalGeneration,
        MusicgenProcessor,
        T5Config,
        EncodecFeatureExtractor,
    )

    torch.manual_seed(0)
    t5_folder = folder.parent / f"{folder.name}-t5"
    build_t5(t5_folder)
    from transformers import T5Tokenizer

    tokenizer = T5Tokenizer.from_pretrained(t5_folder)
    text_encoder = T5Config(vocab_size=tokenizer.vocab_size, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4)
    audio_encoder = EncodecConfig(
        sampling_rate=16000,
        target_bandwidths=[1.0],  # 2 codebooks at 50 frames per second, like MusicGen
        num_filters=4,
        hidden_size=16,
        codebook_size=64,
        codebook_dim=16,
        upsampling_ratios=[8, 5, 4, 2],
        num_lstm_layers=1,
        num_residual_layers=1,
    )
    decoder = MusicgenDecoderConfig(
        vocab_size=64,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        ffn_dim=64,
        num_codebooks=2,
        max_position_embeddings=512,
        pad_token_id=64,
        bos_token_id=64,
    )
    config = MusicgenConfig(text_encoder=text_encoder, audio_encoder=audio_encoder, decoder=decoder)
    config.decoder_start_token_id = 64
    config.pad_token_id = 64
    model = MusicgenForConditionalGeneration(config).eval()
    # A fresh EnCodec has all-zero codebooks: every token sequence would decode to the same
    # waveform, and seeds could not be told apart by the audio.
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith("codebook.embed"):
                tensor.normal_()
    model.generation_config.decoder_start_token_id = 64
    model.generation_config.pad_token_id = 64
    model.generation_config.max_new_tokens = 32
    model.save_pretrained(folder)
    processor = MusicgenProcessor(
        feature_extractor=EncodecFeatureExtractor(sampling_rate=16000), tokenizer=tokenizer
    )
    processor.save_pretrained(folder)
    _ = AutoProcessor
    return folder


def build_stable_diffusion(folder: Path) -> Path:
    """diffusers' own tiny test components (UNet, VAE, CLIP text encoder), saved as a pipeline."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(8, 16),
        layers_per_block=1,
        sample_size=8,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=16,
        norm_num_groups=4,
        attention_head_dim=2,
    )
    scheduler = DDIMScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False, set_alpha_to_one=False, steps_offset=1
    )
    vae = AutoencoderKL(
        block_out_channels=[8, 16],
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
        up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"],
        latent_channels=4,
        norm_num_groups=4,
    )
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            bos_token_id=0,
            eos_token_id=2,
            hidden_size=16,
            intermediate_size=32,
            layer_norm_eps=1e-05,
            num_attention_heads=2,
            num_hidden_layers=2,
            pad_token_id=1,
            vocab_size=1000,
        )
    )
    vocab, _ = _byte_vocab()
    vocab = {k: v for k, v in vocab.items() if v < 990}
    for token in ("<|startoftext|>", "<|endoftext|>"):
        vocab[token] = len(vocab)
    import json

    folder.mkdir(parents=True, exist_ok=True)
    vocab_file = folder.parent / f"{folder.name}-clip-vocab.json"
    merges_file = folder.parent / f"{folder.name}-clip-merges.txt"
    vocab_file.write_text(json.dumps(vocab), encoding="utf-8")
    merges_file.write_text("#version: 0.2\n", encoding="utf-8")
    tokenizer = CLIPTokenizer(vocab_file=str(vocab_file), merges_file=str(merges_file), model_max_length=77)
    pipe = StableDiffusionPipeline(
        unet=unet,
        scheduler=scheduler,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(folder)
    return folder
