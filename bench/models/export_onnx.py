#!/usr/bin/python3
"""torch.onnx.export of the bench's two models, at a small geometry, to check that the graphs
bench/peers/onnx-models.mjs builds in JavaScript compute what PyTorch's own export of the same
models computes (test/bench/onnx-models.test.ts runs both in onnxruntime-web on the same weights).

The models follow Hugging Face's modeling code (the versions of test/fixtures/make_gpt2_fixtures.py
and make_bert_fixtures.py, whose helpers they reuse) as nn.Modules that torch.onnx.export traces,
with the inputs and outputs Optimum gives the files transformers.js loads:
  GPT-2 with past:  input_ids, attention_mask, position_ids, past_key_values.{i}.key/.value
                    → logits, present.{i}.key/.value     (GPT2Attention with layer_past, use_cache)
  BERT:             input_ids, attention_mask, token_type_ids → last_hidden_state

    /usr/bin/python3 bench/models/export_onnx.py

Writes test/fixtures/onnx-export/{gpt2,bert}/: config.json, model.safetensors (the state dict,
HF keys) and model.onnx (opset 17, dynamic batch, sequence and past axes), plus ops.json: how
many nodes of each op type torch's graph has. Small files (random weights): committed, so the
test needs no PyTorch. The bench's full-size graphs are built in JavaScript, never exported here.
"""

import json
import math
import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, os.path.join(ROOT, "test", "fixtures"))
from safetensors_writer import write_safetensors  # noqa: E402
from make_gpt2_fixtures import conv1d, gelu_new, make_weights as gpt2_weights  # noqa: E402
from make_bert_fixtures import make_weights as bert_weights  # noqa: E402

OUT = os.path.join(ROOT, "test", "fixtures", "onnx-export")
OPSET = 17


class Weights(torch.nn.Module):
    """A state dict as parameters (torch.onnx.export turns them into initializers)."""

    def __init__(self, sd):
        super().__init__()
        self.names = {k: k.replace(".", "__") for k in sd}
        for k, v in sd.items():
            self.register_parameter(self.names[k], torch.nn.Parameter(v, requires_grad=False))

    def __getitem__(self, key):
        return getattr(self, self.names[key])


class Gpt2WithPast(torch.nn.Module):
    """GPT2LMHeadModel(input_ids, past_key_values, attention_mask, position_ids, use_cache=True)
    of modeling_gpt2.py (transformers 4.35), lm_head tied to wte."""

    def __init__(self, c, sd):
        super().__init__()
        self.c = c
        self.w = Weights(sd)
        n = c["n_positions"]
        for i in range(c["n_layer"]):  # GPT2Attention's `bias` buffer, one per layer as in HF
            self.register_buffer(f"bias_{i}", torch.tril(torch.ones((n, n), dtype=torch.bool)).view(1, 1, n, n))

    def forward(self, input_ids, attention_mask, position_ids, *past):
        c, w = self.c, self.w
        E, H = c["n_embd"], c["n_head"]
        d = E // H
        B = input_ids.shape[0]
        x = F.embedding(input_ids, w["wte.weight"]) + F.embedding(position_ids, w["wpe.weight"])
        mask = attention_mask.view(B, -1)[:, None, None, :].to(torch.float32)
        mask = (1.0 - mask) * torch.finfo(torch.float32).min
        presents = []
        for i in range(c["n_layer"]):
            p = f"h.{i}."
            ln = lambda t, n: F.layer_norm(t, (E,), w[p + n + ".weight"], w[p + n + ".bias"], c["layer_norm_epsilon"])  # noqa
            q, k, v = conv1d(ln(x, "ln_1"), w[p + "attn.c_attn.weight"], w[p + "attn.c_attn.bias"]).split(E, dim=2)
            heads = lambda t: t.view(t.size()[:-1] + (H, d)).permute(0, 2, 1, 3)  # noqa: E731 (_split_heads)
            q, k, v = heads(q), heads(k), heads(v)
            k = torch.cat((past[2 * i], k), dim=-2)
            v = torch.cat((past[2 * i + 1], v), dim=-2)
            presents += [k, v]
            a = torch.matmul(q, k.transpose(-1, -2))
            a = a / torch.full([], v.size(-1) ** 0.5, dtype=a.dtype)
            ql, kl = q.size(-2), k.size(-2)
            causal = getattr(self, f"bias_{i}")[:, :, kl - ql:kl, :kl]
            a = torch.where(causal, a, torch.full([], torch.finfo(a.dtype).min, dtype=a.dtype))
            a = torch.softmax(a + mask, dim=-1)
            o = torch.matmul(a, v).permute(0, 2, 1, 3).contiguous()
            o = o.view(o.size()[:-2] + (E,))  # _merge_heads
            x = x + conv1d(o, w[p + "attn.c_proj.weight"], w[p + "attn.c_proj.bias"])
            h = gelu_new(conv1d(ln(x, "ln_2"), w[p + "mlp.c_fc.weight"], w[p + "mlp.c_fc.bias"]))
            x = x + conv1d(h, w[p + "mlp.c_proj.weight"], w[p + "mlp.c_proj.bias"])
        x = F.layer_norm(x, (E,), w["ln_f.weight"], w["ln_f.bias"], c["layer_norm_epsilon"])
        return (F.linear(x, w["wte.weight"]), *presents)


class Bert(torch.nn.Module):
    """BertModel(input_ids, attention_mask, token_type_ids).last_hidden_state of modeling_bert.py
    (transformers 4.35, eager attention)."""

    def __init__(self, c, sd):
        super().__init__()
        self.c = c
        self.w = Weights(sd)
        self.register_buffer("position_ids", torch.arange(c["max_position_embeddings"]).expand((1, -1)))

    def forward(self, input_ids, attention_mask, token_type_ids):
        c, w = self.c, self.w
        d, H, eps = c["hidden_size"], c["num_attention_heads"], c["layer_norm_eps"]
        hd = d // H
        L = input_ids.shape[1]
        lin = lambda t, n: F.linear(t, w[n + ".weight"], w[n + ".bias"])  # noqa: E731
        norm = lambda t, n: F.layer_norm(t, (d,), w[n + ".weight"], w[n + ".bias"], eps)  # noqa: E731
        e = F.embedding(input_ids, w["embeddings.word_embeddings.weight"])
        e = e + F.embedding(token_type_ids, w["embeddings.token_type_embeddings.weight"])
        e = e + F.embedding(self.position_ids[:, 0:L], w["embeddings.position_embeddings.weight"])
        x = norm(e, "embeddings.LayerNorm")
        mask = (1.0 - attention_mask[:, None, None, :].to(torch.float32)) * torch.finfo(torch.float32).min
        for n in range(c["num_hidden_layers"]):
            p = f"encoder.layer.{n}."
            heads = lambda t: t.view(t.size()[:-1] + (H, hd)).permute(0, 2, 1, 3)  # noqa: E731
            q = heads(lin(x, p + "attention.self.query"))
            k = heads(lin(x, p + "attention.self.key"))
            v = heads(lin(x, p + "attention.self.value"))
            s = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(hd) + mask
            o = torch.matmul(torch.softmax(s, dim=-1), v).permute(0, 2, 1, 3).contiguous()
            o = o.view(o.size()[:-2] + (d,))
            a = norm(lin(o, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
            i = F.gelu(lin(a, p + "intermediate.dense"))
            x = norm(lin(i, p + "output.dense") + a, p + "output.LayerNorm")
        return x


def save(name, config, sd, model, args, input_names, output_names, dynamic_axes):
    out = os.path.join(OUT, name)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    write_safetensors(os.path.join(out, "model.safetensors"), sd, metadata={"format": "pt"})
    torch.onnx.export(model, args, os.path.join(out, "model.onnx"), opset_version=OPSET,
                      input_names=input_names, output_names=output_names, dynamic_axes=dynamic_axes,
                      do_constant_folding=True)
    graph = torch.onnx.export_to_pretty_string(model, args, opset_version=OPSET, input_names=input_names,
                                               output_names=output_names, dynamic_axes=dynamic_axes,
                                               do_constant_folding=True)
    ops = {}  # onnx is not installed here: count the nodes of torch's printout of the same export
    for line in graph.splitlines():
        line = line.strip()
        if line.startswith('Node {type: "'):
            op = line.split('"', 2)[1]
            ops[op] = ops.get(op, 0) + 1
    with open(os.path.join(out, "ops.json"), "w") as f:
        json.dump({"generator": "bench/models/export_onnx.py", "torch": torch.__version__, "opset": OPSET,
                   "ops": dict(sorted(ops.items()))}, f, indent=2)


def main():
    torch.set_grad_enabled(False)
    g = torch.Generator().manual_seed(15)
    r = lambda *s, std=0.2: torch.randn(*s, generator=g) * std  # noqa: E731

    # GPT-2, small geometry: the bench's graph at n_embd 32, 4 heads, 2 layers.
    c = {"model_type": "gpt2", "vocab_size": 64, "n_positions": 32, "n_embd": 32, "n_layer": 2, "n_head": 4,
         "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new", "n_inner": None, "tie_word_embeddings": True}
    E, Ly = c["n_embd"], c["n_layer"]
    sd = gpt2_weights(g, E, Ly, c["vocab_size"], c["n_positions"])
    d = E // c["n_head"]
    # Traced with a past of 3 and 4 new tokens (as Optimum traces: a non-empty past, every axis dynamic).
    past = [r(1, c["n_head"], 3, d) for _ in range(2 * Ly)]
    ids = torch.randint(0, c["vocab_size"], (1, 4), generator=g)
    args = (ids, torch.ones(1, 7, dtype=torch.int64), torch.arange(3, 7)[None], *past)
    kinds = [(i, kind) for i in range(Ly) for kind in ("key", "value")]
    dyn = {"input_ids": {0: "batch_size", 1: "sequence_length"},
           "attention_mask": {0: "batch_size", 1: "past_sequence_length + sequence_length"},
           "position_ids": {0: "batch_size", 1: "sequence_length"},
           "logits": {0: "batch_size", 1: "sequence_length"}}
    for i, kind in kinds:
        dyn[f"past_key_values.{i}.{kind}"] = {0: "batch_size", 2: "past_sequence_length"}
        dyn[f"present.{i}.{kind}"] = {0: "batch_size", 2: "past_sequence_length + sequence_length"}
    save("gpt2", c, sd, Gpt2WithPast(c, sd), args,
         ["input_ids", "attention_mask", "position_ids"] + [f"past_key_values.{i}.{k}" for i, k in kinds],
         ["logits"] + [f"present.{i}.{k}" for i, k in kinds], dyn)

    # BERT, small geometry: the bench's graph at hidden 32, 4 heads, 2 layers.
    bc = {"model_type": "bert", "vocab_size": 50, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
          "intermediate_size": 64, "max_position_embeddings": 32, "type_vocab_size": 2, "layer_norm_eps": 1e-12,
          "hidden_act": "gelu", "position_embedding_type": "absolute"}
    bsd = bert_weights(g, bc, pooler=False)
    ids = torch.randint(0, bc["vocab_size"], (2, 5), generator=g)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    save("bert", bc, bsd, Bert(bc, bsd), (ids, torch.ones(2, 5, dtype=torch.int64), torch.zeros(2, 5, dtype=torch.int64)),
         names, ["last_hidden_state"], {n: {0: "batch_size", 1: "sequence_length"} for n in names + ["last_hidden_state"]})


if __name__ == "__main__":
    main()
