#!/usr/bin/python3
"""Train the date translator: dates written out in words -> ISO dates, characters in and out.

    /usr/bin/python3 models/date-translator/train.py            # train, export, evaluate
    /usr/bin/python3 models/date-translator/train.py --export-only   # re-run export + greedy.json

Needs Debian's python3-torch (1.13) and NumPy; no download: the data is synthetic (grammar.py).
Writes, next to this script:

    model.safetensors   the state_dict in float32, torch's names (src_embed.weight, transformer.*, generator.*)
    config.json         hyperparameters, vocabulary, special ids, maximum lengths
    greedy.json         the held-out set with PyTorch's greedy output ids and the accuracy
    loss.csv            step, training loss, validation exact-match, seconds

Deterministic for a given torch build and BLAS (seeded; one thread).
"""

import argparse
import csv
import json
import math
import os
import random
import sys
import time

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))

import grammar  # noqa: E402
from safetensors_writer import write_safetensors  # noqa: E402

# One thread: on this shared 2-core machine two OpenMP threads ran a step 4x slower (spinning).
torch.set_num_threads(1)

# --- hyperparameters -----------------------------------------------------------------------
D_MODEL = 64
NHEAD = 4
NUM_ENCODER_LAYERS = 2
NUM_DECODER_LAYERS = 2
DIM_FEEDFORWARD = 256
DROPOUT = 0.0         # the data is unlimited (fresh samples every step): nothing to regularise
LAYER_NORM_EPS = 1e-5
MAX_SRC_LEN = 64      # characters of the source sentence (no specials)
MAX_TGT_LEN = 12      # BOS + 10 characters + EOS
STEPS = 2500
BATCH = 64
LR = 1.2e-3
WARMUP = 150
MAX_SECONDS = 1200     # a safety stop on a busy machine; the schedule is by step

# --- vocabulary: one character vocabulary for source and target ------------------------------
SPECIALS = ["<pad>", "<bos>", "<eos>"]
PAD, BOS, EOS = 0, 1, 2
CHARS = list(" ,-0123456789abcdefghijklmnopqrstuvwxyz")
VOCAB = SPECIALS + CHARS
STOI = {c: i for i, c in enumerate(VOCAB)}


def encode_src(text):
    return [STOI[c] for c in text]


def encode_tgt(text):
    return [BOS] + [STOI[c] for c in text] + [EOS]


def decode_ids(ids):
    return "".join(VOCAB[i] for i in ids if i > EOS)


# --- the model ----------------------------------------------------------------------------------
def sinusoidal_table(max_len, d_model):
    """pe[pos, 2i] = sin(pos / 10000^(2i/d)), pe[pos, 2i+1] = cos(pos / 10000^(2i/d))."""
    pos = torch.arange(max_len, dtype=torch.float64).unsqueeze(1)
    div = torch.pow(10000.0, torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
    pe = torch.zeros(max_len, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(pos / div)
    pe[:, 1::2] = torch.cos(pos / div)
    return pe.to(torch.float32)


class DateTranslator(nn.Module):
    """embed*sqrt(d) + PE -> nn.Transformer(batch_first) -> Linear to the vocabulary."""

    def __init__(self):
        super().__init__()
        self.src_embed = nn.Embedding(len(VOCAB), D_MODEL)
        self.tgt_embed = nn.Embedding(len(VOCAB), D_MODEL)
        self.transformer = nn.Transformer(
            d_model=D_MODEL, nhead=NHEAD, num_encoder_layers=NUM_ENCODER_LAYERS,
            num_decoder_layers=NUM_DECODER_LAYERS, dim_feedforward=DIM_FEEDFORWARD,
            dropout=DROPOUT, activation="relu", layer_norm_eps=LAYER_NORM_EPS,
            batch_first=True, norm_first=False)
        self.generator = nn.Linear(D_MODEL, len(VOCAB))
        # Embeddings start at std 1/sqrt(d), so that after the sqrt(d) scale tokens and positions
        # have the same size; with nn.Embedding's N(0, 1) the positions are drowned and the model
        # swaps neighbouring digits of the year.
        for table in (self.src_embed, self.tgt_embed):
            nn.init.normal_(table.weight, std=D_MODEL ** -0.5)
        # Not a parameter and not in the state dict: the runtime computes the same table.
        self.register_buffer("pe", sinusoidal_table(max(MAX_SRC_LEN, MAX_TGT_LEN), D_MODEL),
                             persistent=False)
        self.dropout = nn.Dropout(DROPOUT)
        self.scale = math.sqrt(D_MODEL)

    def embed(self, table, ids):
        return self.dropout(table(ids) * self.scale + self.pe[: ids.shape[1]])

    def encode(self, src, src_pad=None):
        return self.transformer.encoder(self.embed(self.src_embed, src),
                                        src_key_padding_mask=src_pad)

    def decode(self, tgt, memory, src_pad=None, tgt_pad=None):
        L = tgt.shape[1]
        causal = nn.Transformer.generate_square_subsequent_mask(L)
        h = self.transformer.decoder(self.embed(self.tgt_embed, tgt), memory, tgt_mask=causal,
                                     tgt_key_padding_mask=tgt_pad,
                                     memory_key_padding_mask=src_pad)
        return self.generator(h)


def pad_batch(seqs):
    L = max(len(s) for s in seqs)
    t = torch.full((len(seqs), L), PAD, dtype=torch.long)
    for i, s in enumerate(seqs):
        t[i, : len(s)] = torch.tensor(s, dtype=torch.long)
    return t


@torch.no_grad()
def greedy_one(model, text):
    """Batch 1, unpadded, one token at a time over the whole prefix; returns (ids, min margin)."""
    src = torch.tensor([encode_src(text)], dtype=torch.long)
    memory = model.encode(src)
    ys = [BOS]
    margin = math.inf
    for _ in range(MAX_TGT_LEN - 1):
        logits = model.decode(torch.tensor([ys], dtype=torch.long), memory)[0, -1]
        top2 = torch.topk(logits, 2).values
        margin = min(margin, float(top2[0] - top2[1]))
        nxt = int(torch.argmax(logits))
        ys.append(nxt)
        if nxt == EOS:
            break
    return ys[1:], margin


@torch.no_grad()
def greedy_batch(model, texts):
    src = pad_batch([encode_src(t) for t in texts])
    src_pad = src == PAD
    memory = model.encode(src, src_pad)
    ys = torch.full((len(texts), 1), BOS, dtype=torch.long)
    for _ in range(MAX_TGT_LEN - 1):
        logits = model.decode(ys, memory, src_pad)[:, -1]
        ys = torch.cat([ys, logits.argmax(-1, keepdim=True)], dim=1)
    out = []
    for row in ys.tolist():
        row = row[1:]
        out.append(decode_ids(row[: row.index(EOS)] if EOS in row else row))
    return out


def train(model, train_rng, heldout_set, valid):
    opt = torch.optim.Adam(model.parameters(), lr=LR, betas=(0.9, 0.98), eps=1e-9)

    def lr_at(step):
        if step < WARMUP:
            return (step + 1) / WARMUP
        t = (step - WARMUP) / max(1, STEPS - WARMUP)
        return 0.03 + 0.97 * 0.5 * (1 + math.cos(math.pi * t))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    loss_fn = nn.CrossEntropyLoss(ignore_index=PAD)
    rows = []
    t0 = time.time()
    running = 0.0
    for step in range(1, STEPS + 1):
        model.train()
        pairs = []
        while len(pairs) < BATCH:
            text, iso = grammar.sample(train_rng)
            if text not in heldout_set:  # the held-out sentences are never trained on
                pairs.append((text, iso))
        src = pad_batch([encode_src(s) for s, _ in pairs])
        tgt = pad_batch([encode_tgt(t) for _, t in pairs])
        src_pad = src == PAD
        tgt_in, tgt_out = tgt[:, :-1], tgt[:, 1:]
        logits = model.decode(tgt_in, model.encode(src, src_pad), src_pad, tgt_in == PAD)
        loss = loss_fn(logits.reshape(-1, logits.shape[-1]), tgt_out.reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        running += float(loss)
        if step % 100 == 0:
            acc = ""
            if step % 500 == 0 or step == STEPS:
                model.eval()
                preds = greedy_batch(model, [s for s, _ in valid])
                acc = sum(p == t for p, (_, t) in zip(preds, valid)) / len(valid)
            rows.append([step, round(running / 100, 5), acc, round(time.time() - t0, 1)])
            print("step %5d loss %.4f valid %s  %.0fs" % tuple(rows[-1]), flush=True)
            running = 0.0
        if time.time() - t0 > MAX_SECONDS:
            print("stopped at step %d: time limit" % step, flush=True)
            break
    with open(os.path.join(HERE, "loss.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["step", "train_loss", "valid_exact_match", "seconds"])
        w.writerows(rows)
    return time.time() - t0


def export(model, heldout, train_seconds):
    model.eval()
    sd = model.state_dict()
    tensors = {k: v.detach().to(torch.float32).contiguous() for k, v in sd.items()}
    write_safetensors(os.path.join(HERE, "model.safetensors"), tensors,
                      metadata={"format": "pt", "source": "models/date-translator/train.py"})
    config = {
        "architecture": "nn.Transformer(batch_first=True) + token embeddings * sqrt(dModel) + "
                        "sinusoidal positional encoding + Linear generator",
        "dModel": D_MODEL, "nhead": NHEAD, "numEncoderLayers": NUM_ENCODER_LAYERS,
        "numDecoderLayers": NUM_DECODER_LAYERS, "dimFeedforward": DIM_FEEDFORWARD,
        "activation": "relu", "layerNormEps": LAYER_NORM_EPS, "normFirst": False,
        "embeddingScale": math.sqrt(D_MODEL),
        "vocab": VOCAB, "padId": PAD, "bosId": BOS, "eosId": EOS,
        "maxSrcLen": MAX_SRC_LEN, "maxTgtLen": MAX_TGT_LEN,
        "weights": {"srcEmbed": "src_embed.weight", "tgtEmbed": "tgt_embed.weight",
                    "transformerPrefix": "transformer.", "generatorWeight": "generator.weight",
                    "generatorBias": "generator.bias"},
    }
    with open(os.path.join(HERE, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    items = []
    correct = 0
    for text, iso in heldout:
        ids, margin = greedy_one(model, text)
        out = decode_ids(ids[:-1] if ids and ids[-1] == EOS else ids)
        ok = out == iso
        correct += ok
        items.append({"input": text, "srcIds": encode_src(text), "target": iso,
                      "targetIds": encode_tgt(iso)[1:], "outputIds": ids, "output": out,
                      "correct": ok, "minMargin": round(margin, 4)})
    acc = correct / len(heldout)
    result = {
        "description": "PyTorch greedy decoding (float32, eval mode, batch 1, no padding, full "
                       "prefix re-decoded at each step) of the held-out sentences. outputIds are "
                       "the generated ids after BOS, up to and including EOS; targetIds likewise. "
                       "minMargin: the smallest top-1 minus top-2 logit over the steps.",
        "torch": torch.__version__, "trainSeconds": round(train_seconds, 1),
        "accuracy": acc, "correct": correct, "count": len(heldout), "items": items,
    }
    with open(os.path.join(HERE, "greedy.json"), "w") as f:
        f.write('{\n')
        for k in ["description", "torch", "trainSeconds", "accuracy", "correct", "count"]:
            f.write("%s: %s,\n" % (json.dumps(k), json.dumps(result[k])))
        f.write('"items": [\n')
        f.write(",\n".join(json.dumps(it, separators=(",", ":")) for it in items))
        f.write("\n]}\n")
    print("held-out exact match: %d/%d = %.4f" % (correct, len(heldout), acc))
    return acc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--export-only", action="store_true")
    args = ap.parse_args()
    torch.manual_seed(1234)
    heldout = grammar.heldout_set(random.Random(20240321), 300)
    valid = grammar.heldout_set(random.Random(7), 300, exclude={s for s, _ in heldout})
    exclude = {s for s, _ in heldout} | {s for s, _ in valid}
    assert max(len(s) for s, _ in heldout + valid) <= MAX_SRC_LEN
    model = DateTranslator()
    ckpt = os.path.join(HERE, "checkpoint.pt")
    seconds = 0.0
    if args.export_only:
        model.load_state_dict(torch.load(ckpt))
        seconds = json.load(open(os.path.join(HERE, "greedy.json")))["trainSeconds"]
    else:
        seconds = train(model, random.Random(99), exclude, valid)
        torch.save(model.state_dict(), ckpt)
    export(model, heldout, seconds)


if __name__ == "__main__":
    main()
