#!/usr/bin/python3
"""Trains a small byte-level Llama as a bench fixture: a real trained model whose weight rows
are 256 wide (every k-quant and i-quant super-block holds every matrix), for the fidelity
benches (sequential vs parallel calibration, Bitsmith's GGUF vs llama-quantize + imatrix).

Needs Debian's python3-torch and an optimized BLAS (apt-get install python3-torch
libopenblas0-pthread: without OpenBLAS, torch falls back to the reference BLAS, ~25x slower);
run with /usr/bin/python3.

  /usr/bin/python3 bench/train-byte-llama.py --out bench/out/byte-llama [--steps 1500]
      [--layers 4] [--dim 256] [--hidden 768] [--heads 4] [--kv-heads 2] [--seq 256]
      [--batch 16] [--threads 2] [--seed 7]

`kill -TERM` ends training after the current step and still writes the model.

Writes a Hugging Face folder (config.json, model.safetensors in F32, tokenizer.json,
tokenizer_config.json, generation_config.json) and three text files cut from the corpus,
disjoint from each other: calib.txt (calibration), eval.txt (held-out evaluation) and
train.txt's size in the log (the training text itself is not kept).

The corpus is the Python standard library's source (/usr/lib/python3.11, files in sorted
order), present on every Debian machine with python3: code and English docstrings, about 20 MB.
The tokenizer is byte-level: 256 byte tokens in GPT-2's byte-to-unicode spelling, no merges,
plus <|begin_of_text|> (256) and <|end_of_text|> (257), so every tokenizer (Hugging Face's,
llama.cpp's) splits text into the same ids, one per byte. The architecture is Llama's
(RMSNorm, rotate-half rotary embedding, SwiGLU, grouped-query attention, untied head), in
the Hugging Face naming, so Bitsmith's forward pass and llama.cpp run it as any Llama.
Deterministic for a seed and a thread count.
"""
import argparse
import signal
import json
import math
import os
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

BOS, EOS, VOCAB = 256, 257, 258


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable character map (the ByteLevel pre-tokenizer's)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def corpus(root="/usr/lib/python3.11"):
    files = []
    for d, dirs, names in os.walk(root):
        dirs.sort()
        if "site-packages" in d or "dist-packages" in d or "__pycache__" in d:
            continue
        for n in sorted(names):
            if n.endswith(".py"):
                files.append(os.path.join(d, n))
    files.sort()
    chunks = []
    for f in files:
        with open(f, "rb") as fh:
            chunks.append(fh.read())
    return b"\n\n".join(chunks)


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class Block(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.heads, self.kv, self.hd = a.heads, a.kv_heads, a.dim // a.heads
        self.input_layernorm = RMSNorm(a.dim, 1e-5)
        self.q_proj = nn.Linear(a.dim, a.dim, bias=False)
        self.k_proj = nn.Linear(a.dim, self.kv * self.hd, bias=False)
        self.v_proj = nn.Linear(a.dim, self.kv * self.hd, bias=False)
        self.o_proj = nn.Linear(a.dim, a.dim, bias=False)
        self.post_attention_layernorm = RMSNorm(a.dim, 1e-5)
        self.gate_proj = nn.Linear(a.dim, a.hidden, bias=False)
        self.up_proj = nn.Linear(a.dim, a.hidden, bias=False)
        self.down_proj = nn.Linear(a.hidden, a.dim, bias=False)

    def forward(self, x, cos, sin):
        B, T, D = x.shape
        h = self.input_layernorm(x)
        q = self.q_proj(h).view(B, T, self.heads, self.hd).transpose(1, 2)
        k = self.k_proj(h).view(B, T, self.kv, self.hd).transpose(1, 2)
        v = self.v_proj(h).view(B, T, self.kv, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = self.heads // self.kv
        # Contiguous 3-D batches: torch 1.13's bmm takes a slow path on strided 4-D operands.
        H = self.heads
        q = q.reshape(B * H, T, self.hd)
        k = k.repeat_interleave(rep, dim=1).reshape(B * H, T, self.hd)
        v = v.repeat_interleave(rep, dim=1).reshape(B * H, T, self.hd)
        att = torch.bmm(q, k.transpose(1, 2).contiguous()) / math.sqrt(self.hd)
        mask = torch.ones(T, T, dtype=torch.bool).triu(1)
        att = att.masked_fill(mask, float("-inf")).softmax(-1)
        o = torch.bmm(att, v).view(B, H, T, self.hd).transpose(1, 2).reshape(B, T, D)
        x = x + self.o_proj(o)
        h = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))


class Llama(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.a = a
        self.embed_tokens = nn.Embedding(VOCAB, a.dim)
        self.layers = nn.ModuleList([Block(a) for _ in range(a.layers)])
        self.norm = RMSNorm(a.dim, 1e-5)
        self.lm_head = nn.Linear(a.dim, VOCAB, bias=False)
        hd = a.dim // a.heads
        inv = 1.0 / (a.rope_theta ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
        ang = torch.arange(a.max_pos, dtype=torch.float64)[:, None] * inv[None, :]
        ang = torch.cat((ang, ang), dim=-1)
        self.register_buffer("cos", ang.cos().float(), persistent=False)
        self.register_buffer("sin", ang.sin().float(), persistent=False)

    def forward(self, ids):
        T = ids.shape[1]
        x = self.embed_tokens(ids)
        cos, sin = self.cos[:T], self.sin[:T]
        for b in self.layers:
            x = b(x, cos, sin)
        return self.lm_head(self.norm(x))


def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().float().cpu()
        data = t.numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


def tokenizer_json():
    b2u = bytes_to_unicode()
    vocab = {b2u[b]: b for b in range(256)}
    vocab["<|begin_of_text|>"] = BOS
    vocab["<|end_of_text|>"] = EOS
    special = lambda i, c: {"id": i, "content": c, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [special(BOS, "<|begin_of_text|>"), special(EOS, "<|end_of_text|>")],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [
                {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                {"Sequence": {"id": "A", "type_id": 0}},
                {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 1}},
                {"Sequence": {"id": "B", "type_id": 1}},
            ],
            "special_tokens": {"<|begin_of_text|>": {"id": "<|begin_of_text|>", "ids": [BOS], "tokens": ["<|begin_of_text|>"]}},
        },
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": vocab,
            "merges": [],
        },
    }


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--dim", type=int, default=256)
    p.add_argument("--hidden", type=int, default=768)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--kv-heads", dest="kv_heads", type=int, default=2)
    p.add_argument("--seq", type=int, default=256)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args()
    a.rope_theta = 10000.0
    a.max_pos = 1024
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    os.makedirs(a.out, exist_ok=True)

    data = corpus()
    n = len(data)
    # Held out first, so the training text never overlaps them: the last 1% is evaluation,
    # the 1% before it calibration.
    cut_eval, cut_cal = n - n // 100, n - 2 * (n // 100)
    train = torch.frombuffer(bytearray(data[:cut_cal]), dtype=torch.uint8).long()
    with open(os.path.join(a.out, "calib.txt"), "wb") as f:
        f.write(data[cut_cal:cut_eval])
    with open(os.path.join(a.out, "eval.txt"), "wb") as f:
        f.write(data[cut_eval:])
    print(f"corpus {n} bytes: train {len(train)}, calib {cut_eval - cut_cal}, eval {n - cut_eval}", flush=True)

    model = Llama(a)
    params = sum(p.numel() for p in model.parameters())
    print(f"model: {a.layers} layers, dim {a.dim}, hidden {a.hidden}, heads {a.heads}/{a.kv_heads}: {params} parameters", flush=True)
    decay = [p for n_, p in model.named_parameters() if p.dim() == 2]
    rest = [p for n_, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}], lr=a.lr, betas=(0.9, 0.95))
    g = torch.Generator().manual_seed(a.seed)
    warm = max(1, a.steps // 20)
    t0 = time.time()
    # SIGTERM ends training after the current step and still writes the model (for a busy
    # machine: the schedule is cut short, the figures in the log say where).
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    for step in range(a.steps):
        if stop:
            print(f"stopped by SIGTERM after {step} steps", flush=True)
            break
        lr = a.lr * (step + 1) / warm if step < warm else a.lr * 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, a.steps - warm)))
        for group in opt.param_groups:
            group["lr"] = lr
        starts = torch.randint(0, len(train) - a.seq, (a.batch,), generator=g)
        x = torch.stack([train[s : s + a.seq] for s in starts])
        ids = torch.cat([torch.full((a.batch, 1), BOS), x[:, :-1]], dim=1)
        logits = model(ids)
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), x.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 50 == 0 or step == a.steps - 1:
            el = time.time() - t0
            print(f"step {step}/{a.steps} loss {loss.item():.4f} ({loss.item() / math.log(2):.3f} bits/byte) lr {lr:.2e} {el:.0f}s", flush=True)

    model.eval()
    with torch.no_grad():
        ev = torch.frombuffer(bytearray(data[cut_eval:]), dtype=torch.uint8).long()
        nll, count = 0.0, 0
        for s in range(0, min(len(ev), 64 * a.seq) - a.seq, a.seq):
            x = ev[s : s + a.seq][None]
            ids = torch.cat([torch.tensor([[BOS]]), x[:, :-1]], dim=1)
            nll += F.cross_entropy(model(ids).reshape(-1, VOCAB), x.reshape(-1), reduction="sum").item()
            count += a.seq
        print(f"held-out: {nll / count:.4f} nats/byte, perplexity {math.exp(nll / count):.3f} over {count} bytes", flush=True)

    sd = {"model.embed_tokens.weight": model.embed_tokens.weight, "model.norm.weight": model.norm.weight, "lm_head.weight": model.lm_head.weight}
    for i, b in enumerate(model.layers):
        pre = f"model.layers.{i}."
        sd[pre + "input_layernorm.weight"] = b.input_layernorm.weight
        sd[pre + "post_attention_layernorm.weight"] = b.post_attention_layernorm.weight
        for nme in ("q_proj", "k_proj", "v_proj", "o_proj"):
            sd[pre + f"self_attn.{nme}.weight"] = getattr(b, nme).weight
        for nme in ("gate_proj", "up_proj", "down_proj"):
            sd[pre + f"mlp.{nme}.weight"] = getattr(b, nme).weight
    write_safetensors(os.path.join(a.out, "model.safetensors"), sd)
    write_json(os.path.join(a.out, "config.json"), {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": a.dim,
        "intermediate_size": a.hidden,
        "num_hidden_layers": a.layers,
        "num_attention_heads": a.heads,
        "num_key_value_heads": a.kv_heads,
        "head_dim": a.dim // a.heads,
        "hidden_act": "silu",
        "max_position_embeddings": a.max_pos,
        "rms_norm_eps": 1e-5,
        "rope_theta": a.rope_theta,
        "rope_scaling": None,
        "attention_bias": False,
        "mlp_bias": False,
        "tie_word_embeddings": False,
        "vocab_size": VOCAB,
        "bos_token_id": BOS,
        "eos_token_id": EOS,
        "torch_dtype": "float32",
        "transformers_version": "4.46.0",
    })
    write_json(os.path.join(a.out, "generation_config.json"), {"bos_token_id": BOS, "eos_token_id": EOS})
    write_json(os.path.join(a.out, "tokenizer.json"), tokenizer_json())
    write_json(os.path.join(a.out, "tokenizer_config.json"), {
        "add_bos_token": True,
        "add_eos_token": False,
        "bos_token": "<|begin_of_text|>",
        "eos_token": "<|end_of_text|>",
        "clean_up_tokenization_spaces": False,
        "model_max_length": a.max_pos,
        "tokenizer_class": "PreTrainedTokenizerFast",
    })
    print(f"wrote {a.out} in {time.time() - t0:.0f}s", flush=True)


if __name__ == "__main__":
    sys.exit(main())
