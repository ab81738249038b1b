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
    'within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{"name": <function-name>, "arguments": '
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
    '{{- \'\\n<tool_call>\\n{"name": "\' }}{{- tool_call.name }}{{- \'", "arguments": \' }}'
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
        EncodecFeatureExtractor,
        MusicgenConfig,
        MusicgenDecoderConfig,
        MusicgenForConditionalGeneration,
        MusicgenProcessor,
        T5Config,
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
    processor = MusicgenProcessor(feature_extractor=EncodecFeatureExtractor(sampling_rate=16000), tokenizer=tokenizer)
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
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
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


#: What the scripted model says (see :func:`build_scripted_qwen2`).
SCRIPTED_TOOL_ARGUMENTS = {"query": "GANs"}
SCRIPTED_TOOL_CALL = (
    "<tool_call>",
    '\n{"name": "search_course", "arguments": {"query": "GANs"}}\n',
    "</tool_call>",
)
SCRIPTED_AFTER_TOOL = "GANs pit a generator against a discriminator, as the course explains [1]."
SCRIPTED_PLAIN = "Yes. Once upon a time a kind robot found a glowing crystal and shared its light with everyone [1]."
SCRIPTED_COMPLETION = (" positive", "###", " and text after the stop")


def build_scripted_qwen2(folder: Path) -> Path:
    """A one-layer Qwen2 whose greedy output is fixed by its context: a scripted "bigram" model.

    Every generated token is decided by the current token alone (the MLP is zeroed, so the
    residual stream is the token's embedding), plus two attention heads that notice whether a
    ``<tool_call>`` token (the tool instructions of a prompt with tools) or a
    ``</tool_response>`` token (a tool result) occurs anywhere before. After the chat
    template's ``<|im_start|>assistant\\n`` it answers:

    - with tools and no tool result yet: the tool call :data:`SCRIPTED_TOOL_CALL`;
    - after a tool result: :data:`SCRIPTED_AFTER_TOOL`;
    - without tools: :data:`SCRIPTED_PLAIN` (reads as a "Yes" verdict, a story and a cited answer).

    A plain completion prompt ending in ``:`` continues with :data:`SCRIPTED_COMPLETION`
    (``" positive###..."``, for stop sequences); any other last token ends the text at once.
    The script's chunks are single added tokens, as real tokenizers have multi-character tokens.
    """
    import math

    import torch
    from tokenizers import AddedToken
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM, Qwen2Tokenizer

    vocab, _ = _byte_vocab()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>"]
    for token in specials:
        vocab[token] = len(vocab)
    tokenizer = Qwen2Tokenizer(
        vocab=dict(vocab), merges=[], unk_token=None, bos_token=None, eos_token="<|im_end|>", pad_token="<|endoftext|>"
    )
    tokenizer.add_special_tokens({"additional_special_tokens": specials[1:]})
    chunks = ["<tool_response>", "</tool_response>", SCRIPTED_TOOL_CALL[1], SCRIPTED_AFTER_TOOL, SCRIPTED_PLAIN]
    chunks += SCRIPTED_COMPLETION
    tokenizer.add_tokens([AddedToken(c, normalized=False, special=False) for c in chunks])
    tokenizer.chat_template = QWEN_CHAT_TEMPLATE

    def tid(text: str) -> int:
        ids = tokenizer.convert_tokens_to_ids(text)
        assert isinstance(ids, int) and ids != tokenizer.unk_token_id, text
        return ids

    # "Ġ"/"Ċ" are the byte-level symbols of a space and a newline.
    newline, colon, eos = vocab["Ċ"], vocab[":"], tid("<|im_end|>")
    call_open, call_body, call_close = (tid(t) for t in SCRIPTED_TOOL_CALL)
    after_tool, plain = tid(SCRIPTED_AFTER_TOOL), tid(SCRIPTED_PLAIN)
    c1, c2, c3 = (tid(t) for t in SCRIPTED_COMPLETION)
    response_close = tid("</tool_response>")
    # The next token after each source token (the bigram chain); "\n" is decided with the heads.
    chain = {
        call_open: call_body,
        call_body: call_close,
        call_close: eos,
        after_tool: eos,
        plain: eos,
        colon: c1,
        c1: c2,
        c2: c3,
        c3: eos,
    }
    sources = [newline, response_close, *chain]
    hidden = 32
    dim = {token: i for i, token in enumerate(dict.fromkeys(sources))}
    other, tool_seen, response_seen = len(dim), len(dim) + 1, len(dim) + 2
    assert response_seen < hidden

    vocab_size = len(tokenizer)
    config = Qwen2Config(
        vocab_size=vocab_size,
        hidden_size=hidden,
        intermediate_size=8,
        num_hidden_layers=1,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=32768,
        # Positions must not change which token a head attends to: with this base every
        # rotary frequency but the first is below 1e-20, and the heads use only the slowest.
        rope_parameters={"rope_type": "default", "rope_theta": 1e30},
        eos_token_id=eos,
        pad_token_id=tid("<|endoftext|>"),
        bos_token_id=None,
        tie_word_embeddings=False,
    )
    model = Qwen2ForCausalLM(config).eval()
    head_dim = hidden // 4
    slow = head_dim // 2 - 1  # the rotary pair (slow, slow + head_dim / 2) turns slowest
    norm = math.sqrt(hidden)  # RMSNorm scales a one-hot embedding to this length
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.zero_()
        model.model.norm.weight.fill_(1.0)
        layer = model.model.layers[0]
        layer.input_layernorm.weight.fill_(1.0)
        layer.post_attention_layernorm.weight.fill_(1.0)
        embed = model.model.embed_tokens.weight
        embed[:, other] = 1.0
        for token, d in dim.items():
            embed[token].zero_()
            embed[token, d] = 1.0
        attention = layer.self_attn
        # Score 30 on the marker token, 0 elsewhere: the marker takes all the attention in
        # prompts of up to ~1e12 tokens; without it the head averages zero values.
        a = math.sqrt(30 * math.sqrt(head_dim))
        for q_head, kv_head, marker, feature in ((0, 0, call_open, tool_seen), (2, 1, response_close, response_seen)):
            attention.q_proj.bias[q_head * head_dim + slow] = a
            attention.k_proj.weight[kv_head * head_dim + slow, dim[marker]] = a / norm
            attention.v_proj.weight[kv_head * head_dim, dim[marker]] = 1.0 / norm
            attention.o_proj.weight[feature, q_head * head_dim] = 1.0
        head = model.lm_head.weight
        big, margin, push = 40.0, 4.0, 8.0
        for source, target in chain.items():
            head[target, dim[source]] += big
        head[eos, other] += big  # an unscripted context ends at once
        # After "\n": plain by default, the tool call when tools were offered, the answer after a result.
        head[plain, dim[newline]] += big
        head[call_open, dim[newline]] += big - margin
        head[call_open, tool_seen] += push
        head[call_open, response_seen] -= 2 * push
        head[after_tool, dim[newline]] += big - margin
        head[after_tool, response_seen] += 2 * push
    model.generation_config = GenerationConfig(do_sample=False, eos_token_id=eos, pad_token_id=config.pad_token_id)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
