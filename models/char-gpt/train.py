#!/usr/bin/python3
"""Train a character-level GPT-2 on the King James Bible (Debian's bible-kjv-text) and export it
in Hugging Face's GPT-2 format.

    /usr/bin/python3 models/char-gpt/train.py                 # train, export, greedy.json
    /usr/bin/python3 models/char-gpt/train.py --export-only   # re-export from checkpoint.pt

Needs Debian's python3-torch (1.13) and the packages bible-kjv-text (the compressed text) and
bible-kjv (the `bible` program, the only reader of that compression). No download. Writes, next
to this script:

    config.json         GPT2Config as HF writes it, plus "char_vocab" (id -> character)
    model.safetensors   GPT2LMHeadModel's state dict, F32, HF's names (lm_head tied, not saved)
    greedy.json         PyTorch's greedy continuations of a few prompts (written by greedy.py
                        from the two files above)
    loss.csv            step, train loss (mean of the last 100 steps), validation loss, seconds
    checkpoint.pt       the state dict, for --export-only (not committed)

The module below is GPT-2 as transformers' modeling_gpt2.py computes it, written from scratch
with the same parameter names and layouts (Conv1D weights are [in, out]). Deterministic for a
given torch build, BLAS and thread count (seeded; one thread; a fixed number of steps).
"""

import argparse
import csv
import json
import math
import os
import subprocess
import sys
import time

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))

from safetensors_writer import write_safetensors  # noqa: E402

# One thread. On this shared two-core machine (load average 10-13 during the run) two OpenMP
# threads spin at each other's barriers: measured, 2.2-2.7 s a step on one thread against
# 5.6-9.8 s on two, with three times the CPU time. The result is deterministic for a given torch
# build, BLAS and thread count: every random draw is seeded, the schedule counts steps, not seconds.
torch.set_num_threads(1)

# --- hyperparameters -----------------------------------------------------------------------
N_EMBD = 128
N_HEAD = 4
N_LAYER = 4
N_POSITIONS = 256
PDROP = 0.0           # resid/embd/attn: under two passes over 3.9M characters, nothing to regularise
LAYER_NORM_EPS = 1e-5
INITIALIZER_RANGE = 0.02
BLOCK = 256           # training context = N_POSITIONS: every position of wpe is trained
BATCH = 8             # 8 x 256 = 2048 characters a step
STEPS = 1300
LR = 2e-3
MIN_LR_FRACTION = 0.1
WARMUP = 100
WEIGHT_DECAY = 0.1
LOG_EVERY = 100
VAL_BATCHES = 16      # fixed held-out windows: 16 x 8 x 256 characters

BIBLE_COMMAND = ["bible", "-f", "gen1:1-rev22:21"]


# --- the corpus ----------------------------------------------------------------------------------
def load_corpus():
    """The whole KJV, one verse per line, without the references ("Ge1:1 ")."""
    out = subprocess.run(BIBLE_COMMAND, check=True, capture_output=True, text=True).stdout
    verses = [line.split(" ", 1)[1] for line in out.splitlines()]
    assert len(verses) == 31102, len(verses)
    return "\n".join(verses) + "\n"


# --- the model: HF's GPT2LMHeadModel, from scratch -------------------------------------------------
class Conv1D(nn.Module):
    """HF's Conv1D: a linear layer with the weight stored [in, out]; y = x @ W + b."""

    def __init__(self, nf, nx):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(nx, nf).normal_(std=INITIALIZER_RANGE))
        self.bias = nn.Parameter(torch.zeros(nf))

    def forward(self, x):
        shape = x.shape[:-1] + (self.weight.shape[1],)
        return torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight).view(shape)


def gelu_new(x):
    """The tanh approximation of GELU (HF's "gelu_new", GPT-2's activation)."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3.0))))


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        # Causal mask [1, 1, P, P], 1 on and below the diagonal. Old GPT-2 checkpoints carry it as
        # F32; exported with the weights (see export()), not a parameter.
        self.register_buffer("bias", torch.tril(torch.ones(N_POSITIONS, N_POSITIONS))
                             .view(1, 1, N_POSITIONS, N_POSITIONS))
        self.c_attn = Conv1D(3 * N_EMBD, N_EMBD)
        self.c_proj = Conv1D(N_EMBD, N_EMBD)
        self.attn_dropout = nn.Dropout(PDROP)
        self.resid_dropout = nn.Dropout(PDROP)

    def split_heads(self, x):  # [B, T, C] -> [B, H, T, C/H]
        B, T, _ = x.shape
        return x.view(B, T, N_HEAD, N_EMBD // N_HEAD).permute(0, 2, 1, 3)

    def forward(self, x):
        B, T, _ = x.shape
        q, k, v = self.c_attn(x).split(N_EMBD, dim=2)
        q, k, v = self.split_heads(q), self.split_heads(k), self.split_heads(v)
        w = torch.matmul(q, k.transpose(-1, -2)) / (v.size(-1) ** 0.5)   # [B, H, T, T]
        causal = self.bias[:, :, :T, :T].bool()
        w = torch.where(causal, w, torch.tensor(torch.finfo(w.dtype).min, dtype=w.dtype))
        w = self.attn_dropout(nn.functional.softmax(w, dim=-1))
        y = torch.matmul(w, v).permute(0, 2, 1, 3).reshape(B, T, N_EMBD)  # merge heads
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.c_fc = Conv1D(4 * N_EMBD, N_EMBD)
        self.c_proj = Conv1D(N_EMBD, 4 * N_EMBD)
        self.dropout = nn.Dropout(PDROP)

    def forward(self, x):
        return self.dropout(self.c_proj(gelu_new(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1 = nn.LayerNorm(N_EMBD, eps=LAYER_NORM_EPS)
        self.attn = Attention()
        self.ln_2 = nn.LayerNorm(N_EMBD, eps=LAYER_NORM_EPS)
        self.mlp = MLP()

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))   # pre-norm attention, residual
        return x + self.mlp(self.ln_2(x))  # pre-norm MLP, residual


class Transformer(nn.Module):
    def __init__(self, vocab_size):
        super().__init__()
        self.wte = nn.Embedding(vocab_size, N_EMBD)
        self.wpe = nn.Embedding(N_POSITIONS, N_EMBD)
        self.drop = nn.Dropout(PDROP)
        self.h = nn.ModuleList([Block() for _ in range(N_LAYER)])
        self.ln_f = nn.LayerNorm(N_EMBD, eps=LAYER_NORM_EPS)

    def forward(self, ids):
        pos = torch.arange(ids.shape[1], dtype=torch.long)
        x = self.drop(self.wte(ids) + self.wpe(pos))
        for block in self.h:
            x = block(x)
        return self.ln_f(x)


class GPT2LMHeadModel(nn.Module):
    def __init__(self, vocab_size):
        super().__init__()
        self.transformer = Transformer(vocab_size)
        # HF's _init_weights: N(0, 0.02) for embeddings and Conv1D, and the residual projections
        # (c_proj) at 0.02 / sqrt(2 n_layer); LayerNorm 1 and 0, biases 0.
        for table in (self.transformer.wte, self.transformer.wpe):
            nn.init.normal_(table.weight, std=INITIALIZER_RANGE)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, std=INITIALIZER_RANGE / math.sqrt(2 * N_LAYER))

    def forward(self, ids):
        h = self.transformer(ids)
        return torch.matmul(h, self.transformer.wte.weight.t())   # lm_head tied to wte, no bias


# --- training --------------------------------------------------------------------------------------
def batch_at(data, starts):
    x = torch.stack([data[s: s + BLOCK] for s in starts])
    y = torch.stack([data[s + 1: s + BLOCK + 1] for s in starts])
    return x, y


@torch.no_grad()
def val_loss(model, val_batches):
    model.eval()
    total = 0.0
    for x, y in val_batches:
        logits = model(x)
        total += float(nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)))
    return total / len(val_batches)


def train(model, train_data, val_batches):
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WEIGHT_DECAY},
                             {"params": no_decay, "weight_decay": 0.0}], lr=LR, betas=(0.9, 0.99))

    def lr_at(step):
        """Linear warm-up, then a cosine decay to MIN_LR_FRACTION at the last step."""
        if step < WARMUP:
            return LR * (step + 1) / WARMUP
        t = min(1.0, (step - WARMUP) / max(1, STEPS - WARMUP))
        return LR * (MIN_LR_FRACTION + (1 - MIN_LR_FRACTION) * 0.5 * (1 + math.cos(math.pi * t)))

    gen = torch.Generator().manual_seed(99)
    rows = [[0, "", round(val_loss(model, val_batches), 5), 0.0]]
    print("step %5d train %s val %.4f  %.0fs" % tuple(rows[-1]), flush=True)
    t0 = time.time()
    running = 0.0
    for step in range(1, STEPS + 1):
        model.train()
        for group in opt.param_groups:
            group["lr"] = lr_at(step - 1)
        starts = torch.randint(0, len(train_data) - BLOCK - 1, (BATCH,), generator=gen).tolist()
        x, y = batch_at(train_data, starts)
        logits = model(x)
        loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        running += float(loss)
        if step % LOG_EVERY == 0 or step == STEPS:
            n = (step - 1) % LOG_EVERY + 1
            rows.append([step, round(running / n, 5), round(val_loss(model, val_batches), 5),
                         round(time.time() - t0, 1)])
            print("step %5d train %.4f val %.4f  %.0fs" % tuple(rows[-1]), flush=True)
            running = 0.0
            with open(os.path.join(HERE, "loss.csv"), "w", newline="") as f:
                w = csv.writer(f)
                w.writerow(["step", "train_loss", "val_loss", "seconds"])
                w.writerows(rows)
    return time.time() - t0, STEPS


# --- export --------------------------------------------------------------------------------------
def hf_config(vocab):
    """Every field of transformers' GPT2Config.to_dict(), keys sorted as to_json_string writes
    them; transformers_version is left out (transformers did not write this file)."""
    newline = vocab.index("\n")
    config = {
        "activation_function": "gelu_new",
        "architectures": ["GPT2LMHeadModel"],
        "attn_pdrop": PDROP,
        "bos_token_id": newline,
        "char_vocab": vocab,
        "embd_pdrop": PDROP,
        "eos_token_id": newline,
        "initializer_range": INITIALIZER_RANGE,
        "layer_norm_epsilon": LAYER_NORM_EPS,
        "model_type": "gpt2",
        "n_embd": N_EMBD,
        "n_head": N_HEAD,
        "n_inner": None,
        "n_layer": N_LAYER,
        "n_positions": N_POSITIONS,
        "reorder_and_upcast_attn": False,
        "resid_pdrop": PDROP,
        "scale_attn_by_inverse_layer_idx": False,
        "scale_attn_weights": True,
        "summary_activation": None,
        "summary_first_dropout": 0.1,
        "summary_proj_to_labels": True,
        "summary_type": "cls_index",
        "summary_use_proj": True,
        "torch_dtype": "float32",
        "use_cache": True,
        "vocab_size": len(vocab),
    }
    return dict(sorted(config.items()))


@torch.no_grad()
def export(model, vocab, check_ids):
    """config.json and model.safetensors, then greedy.json by greedy.py from those files. The
    files are checked first: the reference GPT-2 that greedy.py uses, run on the weights read
    back from model.safetensors, gives this model's logits."""
    model.eval()
    tensors = {k: v.detach().to(torch.float32).contiguous() for k, v in model.state_dict().items()}
    write_safetensors(os.path.join(HERE, "model.safetensors"), tensors, metadata={"format": "pt"})
    with open(os.path.join(HERE, "config.json"), "w", encoding="utf-8") as f:
        f.write(json.dumps(hf_config(vocab), indent=2, sort_keys=True, ensure_ascii=False) + "\n")

    import greedy  # models/char-gpt/greedy.py: the repository's PyTorch reference, from the files
    config, sd = greedy.load()
    ref, _ = greedy.forward(config, sd, check_ids)
    diff = float((ref - model(check_ids)).abs().max())
    print("exported; reference vs training model, max |logit difference| %.2e" % diff, flush=True)
    assert diff < 1e-4, diff
    greedy.main()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--export-only", action="store_true")
    args = ap.parse_args()
    torch.manual_seed(1234)
    text = load_corpus()
    vocab = sorted(set(text))
    stoi = {c: i for i, c in enumerate(vocab)}
    data = torch.tensor([stoi[c] for c in text], dtype=torch.long)
    split = int(len(data) * 0.95)            # the last 5% (from Revelation back) is held out
    train_data, val_data = data[:split], data[split:]
    vgen = torch.Generator().manual_seed(7)
    val_batches = [batch_at(val_data, torch.randint(0, len(val_data) - BLOCK - 1, (BATCH,),
                                                    generator=vgen).tolist())
                   for _ in range(VAL_BATCHES)]
    print("corpus %d chars, vocab %d, train %d, val %d" % (len(text), len(vocab), split,
                                                          len(data) - split), flush=True)
    model = GPT2LMHeadModel(len(vocab))
    print("parameters %d" % sum(p.numel() for p in model.parameters()), flush=True)
    ckpt = os.path.join(HERE, "checkpoint.pt")
    if args.export_only:
        model.load_state_dict(torch.load(ckpt))
    else:
        train(model, train_data, val_batches)
        torch.save(model.state_dict(), ckpt)
    export(model, vocab, val_batches[0][0][:4])


if __name__ == "__main__":
    main()
