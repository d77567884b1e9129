#!/usr/bin/python3
"""A small writer (and reader) of the safetensors format, for torch tensors, with no dependency
beyond torch: Debian has no `safetensors` package and there is no pip here.

Format: 8-byte little-endian u64 N, N bytes of UTF-8 JSON
{"__metadata__": {str: str}, name: {"dtype", "shape", "data_offsets": [begin, end]}, ...},
then the byte buffer; offsets are relative to the buffer start. Like the reference writer, the
header is padded with spaces to a multiple of 8 bytes and tensors are laid out in order of
decreasing dtype alignment, then name, back to back.

    from safetensors_writer import write_safetensors, read_safetensors
    write_safetensors(path, {"w": torch.randn(3, 4)}, metadata={"format": "pt"})
    tensors, metadata = read_safetensors(path)
"""

import json
import struct

import torch

DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
          torch.float64: "F64", torch.int8: "I8", torch.uint8: "U8", torch.int16: "I16",
          torch.int32: "I32", torch.int64: "I64", torch.bool: "BOOL"}
TORCH = {v: k for k, v in DTYPES.items()}
SIZES = {"F64": 8, "I64": 8, "F32": 4, "I32": 4, "F16": 2, "BF16": 2, "I16": 2, "I8": 1,
         "U8": 1, "BOOL": 1}


def tensor_bytes(t):
    """Little-endian bytes of a contiguous tensor (bf16/f16 through their int16 bit patterns)."""
    t = t.detach().contiguous().cpu()
    if t.dtype in (torch.float16, torch.bfloat16):
        t = t.view(torch.int16)
    return t.numpy().astype(t.numpy().dtype.newbyteorder("<"), copy=False).tobytes()


def encode_safetensors(tensors, metadata=None):
    order = sorted(tensors, key=lambda k: (-SIZES[DTYPES[tensors[k].dtype]], k))
    header, chunks, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name in order:
        t = tensors[name]
        data = tensor_bytes(t)
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def write_safetensors(path, tensors, metadata=None):
    with open(path, "wb") as f:
        f.write(encode_safetensors(tensors, metadata))


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    metadata = header.pop("__metadata__", {})
    base = 8 + n
    out = {}
    for name, e in header.items():
        b, end = e["data_offsets"]
        dt = TORCH[e["dtype"]]
        buf = bytearray(raw[base + b : base + end])
        if dt in (torch.float16, torch.bfloat16):
            t = torch.frombuffer(buf, dtype=torch.int16).view(dt) if buf else torch.empty(0, dtype=dt)
        else:
            t = torch.frombuffer(buf, dtype=dt) if buf else torch.empty(0, dtype=dt)
        out[name] = t.reshape(e["shape"])
    return out, metadata
