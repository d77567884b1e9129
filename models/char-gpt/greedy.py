#!/usr/bin/python3
"""PyTorch's greedy continuations of the shipped char-GPT, read back from its files.

    /usr/bin/python3 models/char-gpt/greedy.py      # writes models/char-gpt/greedy.json

Reads config.json and model.safetensors as shipped (the bytes a runtime loads, not train.py's
in-memory model) and decodes with the repository's PyTorch reference of Hugging Face's
GPT2LMHeadModel, test/fixtures/make_gpt2_fixtures.py (eval mode, float32, batch 1). Each step
recomputes the whole sequence (no KV cache) and appends the argmax of the last position's
logits, as `model.generate(ids, do_sample=False, max_new_tokens=200)` chooses. `train.py` runs
this after its export; the training figures in greedy.json come from loss.csv.
"""

import csv
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, os.path.join(ROOT, "test", "fixtures"))

from make_gpt2_fixtures import forward  # noqa: E402
from safetensors_writer import read_safetensors  # noqa: E402

GEN_TOKENS = 200
# Lengths 3 to 51; every prompt plus its 200 characters fits in n_positions (256).
PROMPTS = [
    "In the beginning",
    "And the LORD said",
    "Blessed are",
    "The",
    "For God so loved the world, that he gave",
    "Then said Jesus unto his disciples, If any man will",
]


def load():
    with open(os.path.join(HERE, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    tensors, _ = read_safetensors(os.path.join(HERE, "model.safetensors"))
    # The reference takes HF's names without the "transformer." prefix; lm_head is tied to wte.
    sd = {k[len("transformer."):] if k.startswith("transformer.") else k: v.float()
          for k, v in tensors.items()}
    return config, sd


@torch.no_grad()
def greedy(config, sd, ids, n):
    """n greedy steps; returns the new ids and each step's top-1 minus top-2 logit."""
    seq = torch.tensor([ids], dtype=torch.long)
    margins = []
    for _ in range(n):
        logits, _ = forward(config, sd, seq)
        last = logits[0, -1]
        top2 = torch.topk(last, 2).values
        margins.append(float(top2[0] - top2[1]))
        seq = torch.cat([seq, last.argmax().view(1, 1)], dim=1)
    return seq[0, len(ids):].tolist(), margins


def training_summary():
    """(seconds, steps, final train loss, final validation loss) from loss.csv's last row."""
    with open(os.path.join(HERE, "loss.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    last = rows[-1]
    return (float(last["seconds"]), int(last["step"]), float(last["train_loss"]),
            float(last["val_loss"]))


def main():
    torch.set_num_threads(1)
    config, sd = load()
    vocab = config["char_vocab"]
    stoi = {c: i for i, c in enumerate(vocab)}
    items = []
    for prompt in PROMPTS:
        ids = [stoi[c] for c in prompt]
        assert len(ids) + GEN_TOKENS <= config["n_positions"], prompt
        out, margins = greedy(config, sd, ids, GEN_TOKENS)
        items.append({"prompt": prompt, "promptIds": ids, "outputIds": out,
                      "output": "".join(vocab[i] for i in out),
                      "minMargin": round(min(margins), 6),
                      "margins": [round(m, 5) for m in margins]})
        print(repr(prompt), "->", repr(items[-1]["output"]), "min margin %.4f" % min(margins),
              flush=True)
    with torch.no_grad():
        first, _ = forward(config, sd, torch.tensor([items[0]["promptIds"]], dtype=torch.long))
    seconds, steps, train_loss, val_loss = training_summary()
    result = {
        "description": "PyTorch greedy decoding (float32, eval mode, batch 1, the whole sequence "
                       "recomputed at each step, no KV cache) of %d characters after each prompt, "
                       "by models/char-gpt/greedy.py from config.json and model.safetensors. "
                       "outputIds excludes the prompt; margins[i] is the top-1 minus top-2 logit at "
                       "step i, minMargin their minimum. firstPromptLastLogits: the logits at the "
                       "last position of the first prompt alone (before any generated token)."
                       % GEN_TOKENS,
        "torch": torch.__version__, "trainSeconds": seconds, "steps": steps,
        "finalTrainLoss": train_loss, "finalValLoss": val_loss,
        "generatedTokens": GEN_TOKENS,
        "firstPromptLastLogits": first[0, -1].tolist(),
        "items": items,
    }
    with open(os.path.join(HERE, "greedy.json"), "w", encoding="utf-8") as f:
        f.write("{\n")
        for k in (k for k in result if k != "items"):
            f.write("%s: %s,\n" % (json.dumps(k), json.dumps(result[k])))
        f.write('"items": [\n')
        f.write(",\n".join(json.dumps(it, separators=(",", ":"), ensure_ascii=False) for it in items))
        f.write("\n]}\n")


if __name__ == "__main__":
    main()
