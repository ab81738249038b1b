"""Tiny models whose output is fixed, for tests that need a model to say something exact.

:func:`build_bigram_lm` writes a Qwen2 checkpoint whose layers are zeroed, so its next token
depends only on the current one (a bigram table), set so that after ``start`` it emits
``text`` token by token, special tokens included. :func:`build_bos_lm` writes a random
GPT-2 whose tokenizer adds a BOS token and whose chat template writes one too (as Llama's do).
"""

from __future__ import annotations

from pathlib import Path


def build_bigram_lm(folder: Path, tokenizer_source: Path, text: str, *, start: str = "\n") -> Path:
    """A model that continues any prompt ending in ``start`` with exactly ``text``.

    Every token of ``start + text`` but the last must be followed by one token only (no
    token may repeat with two different successors).
    """
    import torch
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_source)
    ids = tokenizer(start + text, add_special_tokens=False)["input_ids"]
    table: dict[int, int] = {}
    for current, following in zip(ids, ids[1:], strict=False):
        if table.setdefault(current, following) != following:
            raise ValueError(f"token {tokenizer.convert_ids_to_tokens(current)!r} has two successors in {text!r}")
    hidden = 128
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
        tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config)
    with torch.no_grad():
        for layer in model.model.layers:  # no attention, no MLP: the residual is the embedding
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        embeddings = torch.nn.functional.normalize(torch.randn(len(tokenizer), hidden), dim=1)
        model.model.embed_tokens.weight.copy_(embeddings)
        head = torch.zeros(len(tokenizer), hidden)
        for current, following in table.items():
            head[following] += 10 * embeddings[current]
        model.lm_head.weight.copy_(head)
    model.eval()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def build_bos_lm(folder: Path) -> Path:
    """A random 2-layer GPT-2 whose tokenizer adds ``<s>`` and whose chat template starts with it."""
    import torch
    from tiny_models import _byte_vocab
    from transformers import GPT2Config, GPT2LMHeadModel, GPT2Tokenizer

    torch.manual_seed(0)
    vocab, _ = _byte_vocab()
    vocab["<|endoftext|>"] = len(vocab)
    vocab["<s>"] = len(vocab)
    tokenizer = GPT2Tokenizer(
        vocab=vocab, merges=[], unk_token="<|endoftext|>", bos_token="<s>", eos_token="<|endoftext|>", add_bos_token=True
    )
    tokenizer.chat_template = "{{ bos_token }}{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}assistant:"
    config = GPT2Config(
        vocab_size=len(vocab),
        n_embd=32,
        n_layer=2,
        n_head=4,
        n_positions=1024,
        bos_token_id=vocab["<s>"],
        eos_token_id=vocab["<|endoftext|>"],
    )
    model = GPT2LMHeadModel(config).eval()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
