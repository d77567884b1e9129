// Minimal hand-written protobuf encoder for ONNX ModelProto.
//
// Why hand-written: the benchmark peers only need to *emit* a handful of tiny
// graphs (a few nodes, float initializers). Pulling in `onnx-proto` /
// protobufjs codegen for that would add a dependency and a schema to keep in
// sync; the wire format for the subset we use is ~100 lines.
//
// Field numbers follow onnx/onnx `onnx/onnx.proto` (proto2):
//   ModelProto          ir_version=1 producer_name=2 graph=7 opset_import=8
//   OperatorSetIdProto  domain=1 version=2
//   GraphProto          node=1 name=2 initializer=5 input=11 output=12
//   NodeProto           input=1 output=2 name=3 op_type=4 attribute=5 domain=7
//   AttributeProto      name=1 f=2 i=3 floats=7 ints=8 type=20
//                       (AttributeType FLOAT=1 INT=2 FLOATS=6 INTS=7)
//   ValueInfoProto      name=1 type=2
//   TypeProto           tensor_type=1;  TypeProto.Tensor elem_type=1 shape=2
//   TensorShapeProto    dim=1;  Dimension dim_value=1 dim_param=2
//   TensorProto         dims=1 data_type=2 name=8 raw_data=9
//                       (DataType FLOAT=1 UINT8=2 INT8=3 INT32=6 INT64=7 BOOL=9)
//
// Only what the peers need is implemented; anything else throws rather than
// silently producing a model ORT would misread.

export const DataType = Object.freeze({ FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, BOOL: 9 });
const AttrType = Object.freeze({ FLOAT: 1, INT: 2, FLOATS: 6, INTS: 7 });

// Wire types.
const VARINT = 0;
const FIXED32 = 5;
const LEN = 2;

const utf8 = new TextEncoder();

/**
 * Append-only byte buffer. Messages are built bottom-up: a nested message is
 * encoded to its own Uint8Array first, then written as a length-delimited
 * field, which keeps the encoder free of back-patching.
 */
class Writer {
  constructor() {
    this.chunks = [];
    this.length = 0;
  }

  /** @param {Uint8Array} bytes */
  raw(bytes) {
    this.chunks.push(bytes);
    this.length += bytes.length;
    return this;
  }

  /**
   * Base-128 varint of a (possibly negative) int64. Negative values are
   * two's-complement 64-bit, i.e. always 10 bytes, as protobuf requires for
   * int64/int32 fields; BigInt keeps values above 2^53 exact too.
   */
  varint(value) {
    let v = BigInt.asUintN(64, BigInt(value));
    const out = [];
    do {
      let byte = Number(v & 0x7fn);
      v >>= 7n;
      if (v !== 0n) byte |= 0x80;
      out.push(byte);
    } while (v !== 0n);
    return this.raw(Uint8Array.from(out));
  }

  tag(field, wireType) {
    return this.varint((field << 3) | wireType);
  }

  int(field, value) {
    return this.tag(field, VARINT).varint(value);
  }

  float(field, value) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    return this.tag(field, FIXED32).raw(b);
  }

  bytes(field, bytes) {
    return this.tag(field, LEN).varint(bytes.length).raw(bytes);
  }

  string(field, s) {
    return this.bytes(field, utf8.encode(s));
  }

  /** A nested message still held as a Writer: its chunks are appended, not copied, so a model
   * with hundreds of MB of initializers is copied once, by the outermost finish(). */
  message(field, inner) {
    this.tag(field, LEN).varint(inner.length);
    for (const c of inner.chunks) this.raw(c);
    return this;
  }

  /** Packed repeated varints (proto3 style; proto2 parsers accept it too). */
  packedInts(field, values) {
    const inner = new Writer();
    for (const v of values) inner.varint(v);
    return this.bytes(field, inner.finish());
  }

  packedFloats(field, values) {
    const b = new Uint8Array(values.length * 4);
    const dv = new DataView(b.buffer);
    values.forEach((v, i) => dv.setFloat32(i * 4, v, true));
    return this.bytes(field, b);
  }

  finish() {
    const out = new Uint8Array(this.length);
    let off = 0;
    for (const c of this.chunks) {
      out.set(c, off);
      off += c.length;
    }
    return out;
  }
}

// ---------------------------------------------------------------------------
// Attribute helpers. Explicit constructors instead of guessing from JS
// numbers, because `1.0` and `1` are the same JS value but different ONNX
// attribute types (and ORT rejects a FLOAT where the schema says INT).

/** @returns {{ name: string, type: 'int', value: number }} */
export const intAttr = (name, value) => ({ name, type: 'int', value });
/** @returns {{ name: string, type: 'float', value: number }} */
export const floatAttr = (name, value) => ({ name, type: 'float', value });
/** @returns {{ name: string, type: 'ints', value: number[] }} */
export const intsAttr = (name, value) => ({ name, type: 'ints', value });
/** @returns {{ name: string, type: 'floats', value: number[] }} */
export const floatsAttr = (name, value) => ({ name, type: 'floats', value });

function encodeAttribute(a) {
  const w = new Writer().string(1, a.name);
  switch (a.type) {
    case 'int':
      w.int(20, AttrType.INT).int(3, a.value);
      break;
    case 'float':
      w.int(20, AttrType.FLOAT).float(2, a.value);
      break;
    case 'ints':
      w.int(20, AttrType.INTS).packedInts(8, a.value);
      break;
    case 'floats':
      w.int(20, AttrType.FLOATS).packedFloats(7, a.value);
      break;
    default:
      throw new Error(`onnx-proto: unsupported attribute type ${a.type} (${a.name})`);
  }
  return w.finish();
}

/**
 * @param {{ opType: string, domain?: string, name?: string,
 *           inputs: string[], outputs: string[], attributes?: object[] }} n
 *   Use '' in `inputs` to skip an optional input positionally (ONNX
 *   convention).
 */
function encodeNode(n) {
  const w = new Writer();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  if (n.name) w.string(3, n.name);
  w.string(4, n.opType);
  for (const a of n.attributes ?? []) w.bytes(5, encodeAttribute(a));
  if (n.domain) w.string(7, n.domain);
  return w.finish();
}

/**
 * @param {{ name: string, shape: (number|string)[], elemType?: number }} v
 *   Numeric dims are fixed (dim_value); string dims are symbolic (dim_param).
 */
function encodeValueInfo(v) {
  const shape = new Writer();
  for (const d of v.shape) {
    const dim = new Writer();
    if (typeof d === 'number') dim.int(1, d);
    else dim.string(2, d);
    shape.bytes(1, dim.finish());
  }
  const tensorType = new Writer()
    .int(1, v.elemType ?? DataType.FLOAT)
    .bytes(2, shape.finish())
    .finish();
  const type = new Writer().bytes(1, tensorType).finish();
  return new Writer().string(1, v.name).bytes(2, type).finish();
}

/**
 * @param {{ name: string, dims: number[],
 *           data: Float32Array | BigInt64Array | Int32Array | Int8Array | Uint8Array,
 *           dataType?: number }} t
 *   Data goes in raw_data (little-endian, as the spec mandates). The typed
 *   array's bytes are referenced, not copied, until the model's finish(),
 *   which is correct on little-endian hosts — every platform Node/V8 runs
 *   WebAssembly on. The element type follows the array (Float32Array FLOAT,
 *   BigInt64Array INT64, Int32Array INT32, Int8Array INT8); a Uint8Array is a
 *   BOOL tensor unless `dataType` says DataType.UINT8.
 * @returns {Writer}
 */
function encodeTensor(t) {
  let dataType;
  if (t.data instanceof Float32Array) dataType = DataType.FLOAT;
  else if (t.data instanceof BigInt64Array) dataType = DataType.INT64;
  else if (t.data instanceof Int32Array) dataType = DataType.INT32;
  else if (t.data instanceof Int8Array) dataType = DataType.INT8;
  else if (t.data instanceof Uint8Array) dataType = t.dataType === DataType.UINT8 ? DataType.UINT8 : DataType.BOOL;
  else throw new Error(`onnx-proto: initializer ${t.name} must be Float32Array, BigInt64Array, Int32Array, Int8Array or Uint8Array (BOOL or UINT8)`);
  const count = t.dims.reduce((a, b) => a * b, 1);
  if (count !== t.data.length) {
    throw new Error(`onnx-proto: initializer ${t.name} has ${t.data.length} elements, dims say ${count}`);
  }
  const w = new Writer();
  for (const d of t.dims) w.int(1, d);
  w.int(2, dataType).string(8, t.name);
  w.bytes(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  return w;
}

/** @returns {Writer} */
function encodeGraph(g) {
  const w = new Writer();
  for (const n of g.nodes) w.bytes(1, encodeNode(n));
  w.string(2, g.name ?? 'graph');
  for (const t of g.initializers ?? []) w.message(5, encodeTensor(t));
  for (const v of g.inputs) w.bytes(11, encodeValueInfo(v));
  for (const v of g.outputs) w.bytes(12, encodeValueInfo(v));
  return w;
}

/**
 * Encode a ModelProto.
 *
 * @param {{
 *   graph: { name?: string, nodes: object[], inputs: object[], outputs: object[],
 *            initializers?: object[] },
 *   irVersion?: number,
 *   opsets?: { domain: string, version: number }[],
 *   producerName?: string,
 * }} model
 *   Defaults: IR 8 with ai.onnx opset 17 and com.microsoft opset 1 — old
 *   enough for any ORT ≥ 1.14, new enough for the contrib attention ops.
 *   Pass `opsets` explicitly to use newer standard ops.
 * @returns {Uint8Array} serialized model, ready for
 *   `ort.InferenceSession.create(bytes)`.
 */
export function encodeModel({
  graph,
  irVersion = 8,
  opsets = [
    { domain: '', version: 17 },
    { domain: 'com.microsoft', version: 1 },
  ],
  producerName = 'wasm-attention-bench',
}) {
  const w = new Writer().int(1, irVersion).string(2, producerName);
  w.message(7, encodeGraph(graph));
  for (const o of opsets) {
    // domain is written even when '' (the default domain) for readability in
    // dumps; an empty string and an absent field mean the same thing.
    w.bytes(8, new Writer().string(1, o.domain).int(2, o.version).finish());
  }
  return w.finish();
}
