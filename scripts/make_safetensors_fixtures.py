#!/usr/bin/python3
"""Small .safetensors files written from torch tensors, for test/io/safetensors.test.ts.

    /usr/bin/python3 scripts/make_safetensors_fixtures.py

Writes test/fixtures/safetensors/*.safetensors with scripts/safetensors_writer.py (the layout of
the reference writer) and expected.json: for each file, its metadata and, per tensor, dtype,
shape and the values torch gives for `tensor.float()`, row-major (non-finite values as the
strings "inf", "-inf", "nan"; -0 as the string "-0"). Deterministic (fixed seeds).
"""

import json
import math
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from safetensors_writer import encode_safetensors, read_safetensors  # noqa: E402

OUT = os.path.join(HERE, "..", "test", "fixtures", "safetensors")


def values(t):
    out = []
    for x in t.float().reshape(-1).tolist():
        if math.isnan(x):
            out.append("nan")
        elif math.isinf(x):
            out.append("inf" if x > 0 else "-inf")
        elif x == 0 and math.copysign(1, x) < 0:
            out.append("-0")
        else:
            out.append(x)
    return out


def specials(dtype):
    """Edge values of a 16-bit float type, exactly representable in it."""
    fi = torch.finfo(dtype)
    tiny = fi.tiny  # smallest normal
    vals = [0.0, -0.0, 1.0, -2.5, fi.max, -fi.max, tiny, -tiny, float("inf"), float("-inf"),
            float("nan")]
    if dtype == torch.float16:
        vals += [2.0 ** -24, -(2.0 ** -24), 2.0 ** -15, 1023 * 2.0 ** -24, 65504.0, 0.333251953125]
    else:
        vals += [2.0 ** -133, -(2.0 ** -133), 2.0 ** -127, 2.0 ** 127, 0.333984375]
    t = torch.tensor(vals, dtype=torch.float32).to(dtype)
    # torch 1.13 turns an f32 NaN into the bf16 bits 0xffff; store the canonical quiet NaN
    # (0x7fc0 / 0x7e00) so that writeSafetensors can reproduce the file byte for byte.
    t.view(torch.int16)[torch.isnan(t)] = 0x7FC0 if dtype == torch.bfloat16 else 0x7E00
    assert torch.equal(t.float().nan_to_num(0.0), torch.tensor(vals).nan_to_num(0.0)), dtype
    return t


def main():
    os.makedirs(OUT, exist_ok=True)
    g = torch.Generator().manual_seed(11)
    files = {
        "f32": ({"weight": torch.randn(3, 5, generator=g),
                 "bias": torch.randn(5, generator=g),
                 "scalar": torch.tensor(1.5),
                 "empty": torch.zeros(0, 4),
                 "cube": torch.randn(2, 3, 4, generator=g)},
                {"format": "pt", "note": "written by scripts/make_safetensors_fixtures.py"}),
        "f16": ({"weight": (torch.randn(4, 6, generator=g) * 3).half(),
                 "specials": specials(torch.float16)}, None),
        "bf16": ({"weight": (torch.randn(4, 6, generator=g) * 3).bfloat16(),
                  "specials": specials(torch.bfloat16)}, None),
        "mixed": ({"a.f32": torch.randn(7, generator=g),
                   "b.f16": torch.randn(3, 3, generator=g).half(),
                   "c.bf16": torch.randn(5, generator=g).bfloat16(),
                   "d.f16": torch.randn(1, generator=g).half()},
                  {"format": "pt", "unicode": "žluťoučký kůň"}),
        # A state dict of a real module, keyed as torch keys it.
        "linear": ({k: v for k, v in torch.nn.Linear(4, 3).state_dict().items()}, {"format": "pt"}),
        # Dtypes the loader does not support yet: it must name the tensor and the dtype.
        "int8": ({"q": torch.randint(-128, 127, (2, 3), generator=g, dtype=torch.int8),
                  "scale": torch.randn(3, generator=g)}, None),
        "int32": ({"ids": torch.arange(6, dtype=torch.int32)}, None),
    }
    expected = {}
    total = 0
    for name, (tensors, meta) in files.items():
        raw = encode_safetensors(tensors, meta)
        path = os.path.join(OUT, name + ".safetensors")
        with open(path, "wb") as f:
            f.write(raw)
        total += len(raw)
        back, back_meta = read_safetensors(path)  # round trip through the reader
        assert back_meta == (meta or {})
        for k, t in tensors.items():
            assert back[k].dtype == t.dtype and torch.equal(back[k].view(-1).float().nan_to_num(0),
                                                            t.reshape(-1).float().nan_to_num(0))
        expected[name] = {
            "metadata": meta or {},
            "tensors": {k: {"dtype": {torch.float32: "F32", torch.float16: "F16",
                                      torch.bfloat16: "BF16", torch.int8: "I8",
                                      torch.int32: "I32"}[t.dtype],
                            "shape": list(t.shape), "values": values(t)}
                        for k, t in tensors.items()},
        }
    with open(os.path.join(OUT, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(expected, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print("wrote %d files, %d bytes" % (len(files), total))


if __name__ == "__main__":
    main()
