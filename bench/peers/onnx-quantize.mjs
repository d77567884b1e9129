// onnxruntime's dynamic ("q8") quantization of an ONNX graph, redone in JavaScript on the graphs of
// ./onnx-models.mjs, so the bench's onnxruntime-web q8 peer runs what transformers.js users download
// (model_quantized.onnx / decoder_model_merged_quantized.onnx) without Python.
//
// What transformers.js does (huggingface/transformers.js, scripts/quantize.py, quantize_q8, and
// scripts/convert.py): `ONNXQuantizer(model, per_channel, reduce_range,
// mode=QuantizationMode.IntegerOps, static=False, weight_qType=QInt8 (QUInt8 only when the model
// has Conv / GroupQueryAttention / MultiHeadAttention), activation_qType=QUInt8,
// op_types_to_quantize=IntegerOpsRegistry.keys(), extra_options={EnableSubgraph, MatMulConstBOnly})`
// — quantize_dynamic's rewrite. per_channel and reduce_range come from convert.py: both False for
// the model types in NO_PER_CHANNEL_REDUCE_RANGE_MODELS (gpt2 is one), both True otherwise (bert).
// TRANSFORMERS_JS_Q8 below holds the two settings.
//
// What the quantizer then does (microsoft/onnxruntime, onnxruntime/python/tools/quantization/):
// - onnx_quantizer.py ONNXQuantizer.__init__: not static → model.replace_gemm_with_matmul():
//   Gemm(A, B, C) with alpha = beta = 1, transA = 0 becomes MatMul(A, B) → `<out>_MatMul`, then
//   Add(·, C) → `<out>` (a transB = 1 B initializer is transposed first).
// - registry.py IntegerOpsRegistry: Conv, MatMul (MatMulInteger), Attention, LSTM, Gather,
//   Transpose, EmbedLayerNormalization. Of these our graphs have MatMul and Gather (Transpose only
//   moves already-quantized tensors: none here).
// - operators/matmul.py MatMulInteger.quantize, for a MatMul whose B is an initializer
//   (MatMulConstBOnly: Q·Kᵀ and P·V stay f32): the activation through
//   `DynamicQuantizeLinear(x) → x_quantized, x_scale, x_zero_point` (uint8, one per distinct input
//   tensor, shared by the MatMuls that read it: onnx_quantizer.py _get_quantize_input_nodes);
//   the weight through quantize_weight(node, [1], reduce_range=True, op_level_per_channel=True);
//   then MatMulInteger(x_q, W_q, x_zp, W_zp) → Cast(to FLOAT) → Mul(x_scale, W_scale) → Mul →
//   the MatMul's output (the Add of the bias follows unchanged).
// - base_quantizer.py quantize_initializer_impl / quantize_weight_per_channel_impl: weights
//   QInt8 are symmetric (is_weight_symmetric); reduce_range = self.reduce_range and the op's
//   reduce_range; per channel along axis -1 of B [K, N] (one scale per output column).
// - quant_utils.py: get_qmin_qmax_for_qType gives [-127, 127] (symmetric int8), [-64, 64]
//   (reduce_range), [0, 255] (uint8); compute_scale_zp: rmin = min(rmin, 0), rmax = max(rmax, 0),
//   symmetric → ±max(|rmin|, |rmax|); scale = (rmax - rmin) / (qmax - qmin) in float64, then
//   float32; zero point round((qmin + qmax) / 2) = 0 when symmetric, else round(qmin - rmin /
//   scale) (numpy round: half to even); a scale below float32's tiny becomes 1 (zero point 0).
//   quantize_nparray: clip(round(x_f32 / scale_f32) + zero_point, type min, type max).
// - operators/gather.py GatherQuant: a Gather of a float initializer (the embedding tables) reads
//   the table quantized as an *activation*: uint8, asymmetric, per tensor, no reduce_range; the
//   Gather then outputs `<out>_quantized` and a DequantizeLinear (onnx_quantizer.py
//   _dequantize_value, inserted before its first float consumer) gives `<out>` back.
// Initializers no node reads any more (the float weights that were quantized) are dropped
// (clean_initializers).
//
// onnxruntime-web then fuses DynamicQuantizeLinear + MatMulInteger + Cast + Mul (+ Add) into
// com.microsoft DynamicQuantizeMatMul at graphOptimizationLevel 'all', as for the real files
// (checked with 1.30.0's profiler on the 2-layer fixture GPT-2: its 9 quantized MatMuls run as 9
// DynamicQuantizeMatMul; the uint8 Gathers as Gather + DequantizeLinear).
import { DataType, intAttr } from './onnx-proto.mjs';

/** The settings transformers.js's convert.py quantizes with (weights QInt8, activations QUInt8). */
export const TRANSFORMERS_JS_Q8 = Object.freeze({
  gpt2: Object.freeze({ perChannel: false, reduceRange: false }),
  bert: Object.freeze({ perChannel: true, reduceRange: true }),
});

const F32_TINY = 1.1754943508222875e-38;

/** numpy.round: to the nearest integer, halves to even. */
function roundHalfEven(x) {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * quantize_data for int8 weights, symmetric: one scale for `values` (a whole tensor or one
 * channel), zero point 0.
 * @param {ArrayLike<number>} values  float32 values
 * @param {boolean} reduceRange  [-64, 64] instead of [-127, 127]
 * @returns {{ scale: number, codes: Int8Array }}
 */
export function quantizeSymmetricInt8(values, reduceRange) {
  let rmin = 0, rmax = 0;
  for (let i = 0; i < values.length; i++) {
    if (values[i] < rmin) rmin = values[i];
    if (values[i] > rmax) rmax = values[i];
  }
  const absmax = Math.max(-rmin, rmax);
  const [qmin, qmax] = reduceRange ? [-64, 64] : [-127, 127];
  const scale64 = Math.fround(2 * absmax) / (qmax - qmin);
  const scale = scale64 < F32_TINY ? 1 : Math.fround(scale64);
  const codes = new Int8Array(values.length);
  // Clipped to int8's range, not [qmin, qmax]: quantize_nparray clips to the type.
  for (let i = 0; i < values.length; i++) codes[i] = Math.min(127, Math.max(-128, roundHalfEven(Math.fround(values[i] / scale))));
  return { scale, codes };
}

/**
 * quantize_data for uint8, asymmetric (how GatherQuant stores an embedding table): one scale and
 * zero point for the tensor.
 * @param {ArrayLike<number>} values
 * @returns {{ scale: number, zeroPoint: number, codes: Uint8Array }}
 */
export function quantizeAsymmetricUint8(values) {
  let rmin = 0, rmax = 0;
  for (let i = 0; i < values.length; i++) {
    if (values[i] < rmin) rmin = values[i];
    if (values[i] > rmax) rmax = values[i];
  }
  const scale64 = Math.fround(rmax - rmin) / 255;
  let scale = 1, zeroPoint = 0;
  if (scale64 >= F32_TINY) {
    zeroPoint = roundHalfEven(0 - rmin / scale64);
    scale = Math.fround(scale64);
  }
  const codes = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) codes[i] = Math.min(255, Math.max(0, roundHalfEven(Math.fround(values[i] / scale)) + zeroPoint));
  return { scale, zeroPoint, codes };
}

/**
 * An int8 weight B [K, N] (MatMul's right operand), per tensor or per column (axis -1).
 * @returns {{ codes: Int8Array, scales: Float32Array }}  scales has 1 or N entries
 */
export function quantizeMatMulWeight(b, K, N, { perChannel, reduceRange }) {
  if (!perChannel) {
    const { scale, codes } = quantizeSymmetricInt8(b, reduceRange);
    return { codes, scales: Float32Array.of(scale) };
  }
  const codes = new Int8Array(K * N), scales = new Float32Array(N), column = new Float32Array(K);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) column[k] = b[k * N + n];
    const q = quantizeSymmetricInt8(column, reduceRange);
    scales[n] = q.scale;
    for (let k = 0; k < K; k++) codes[k * N + n] = q.codes[k];
  }
  return { codes, scales };
}

/** Row-major [rows, cols] → [cols, rows]. */
function transpose(m, rows, cols) {
  const t = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = m[r * cols + c];
  return t;
}

const attr = (node, name, fallback) => node.attributes?.find((a) => a.name === name)?.value ?? fallback;

/**
 * The graph quantize_dynamic makes of `graph` (see the top of this file): a new graph object, the
 * input untouched.
 * @param {{ name: string, nodes: object[], initializers: object[], inputs: object[], outputs: object[] }} graph
 * @param {{ perChannel: boolean, reduceRange: boolean, opTypes?: string[] }} options  opTypes:
 *   op_types_to_quantize, of MatMul and Gather (default both, as IntegerOpsRegistry)
 */
export function quantizeDynamic(graph, { perChannel, reduceRange, opTypes = ['MatMul', 'Gather'] }) {
  const initializers = new Map(graph.initializers.map((t) => [t.name, t]));
  const isFloatInit = (name) => initializers.get(name)?.data instanceof Float32Array;

  // replace_gemm_with_matmul.
  const nodes = [];
  for (const node of graph.nodes) {
    if (node.opType !== 'Gemm' || attr(node, 'alpha', 1) !== 1 || attr(node, 'beta', 1) !== 1 || attr(node, 'transA', 0) !== 0) {
      nodes.push(node);
      continue;
    }
    let b = node.inputs[1];
    if (attr(node, 'transB', 0) === 1) {
      const t = initializers.get(b);
      if (!t) { nodes.push(node); continue; } // a non-initializer transposed B stays Gemm
      const name = `${b}_T`;
      initializers.set(name, { name, dims: [t.dims[1], t.dims[0]], data: transpose(t.data, t.dims[0], t.dims[1]) });
      b = name;
    }
    const [out] = node.outputs, bias = node.inputs[2];
    nodes.push({ opType: 'MatMul', inputs: [node.inputs[0], b], outputs: [bias ? `${out}_MatMul` : out] });
    if (bias) nodes.push({ opType: 'Add', inputs: [`${out}_MatMul`, bias], outputs: [out] });
  }

  const out = [];
  const activations = new Map(); // input name → its DynamicQuantizeLinear outputs
  const weights = new Map(); // initializer name → { q, scale, zp }
  const dequantize = new Map(); // float name → DequantizeLinear node, emitted before its first reader
  const add = (name, dims, data, dataType) => initializers.set(name, { name, dims, data, ...(dataType ? { dataType } : {}) });

  for (const node of nodes) {
    for (const input of node.inputs) {
      const dq = dequantize.get(input);
      if (dq) { out.push(dq); dequantize.delete(input); }
    }
    if (node.opType === 'MatMul' && opTypes.includes('MatMul') && isFloatInit(node.inputs[1])) {
      const [x, w] = node.inputs, [y] = node.outputs;
      if (!activations.has(x)) {
        const names = [`${x}_quantized`, `${x}_scale`, `${x}_zero_point`];
        out.push({ opType: 'DynamicQuantizeLinear', inputs: [x], outputs: names, name: `${x}_QuantizeLinear` });
        activations.set(x, names);
      }
      if (!weights.has(w)) {
        const t = initializers.get(w);
        const [K, N] = t.dims;
        const { codes, scales } = quantizeMatMulWeight(t.data, K, N, { perChannel, reduceRange });
        const dims = perChannel ? [N] : [];
        add(`${w}_quantized`, [K, N], codes);
        add(`${w}_scale`, dims, scales);
        add(`${w}_zero_point`, dims, new Int8Array(scales.length));
        weights.set(w, { q: `${w}_quantized`, scale: `${w}_scale`, zp: `${w}_zero_point` });
      }
      const [xq, xs, xz] = activations.get(x), wq = weights.get(w);
      const mi = `${y}_output_quantized`, cast = `${mi}_cast_output`, scales = `${y}_scales_mul:0`;
      out.push(
        { opType: 'MatMulInteger', inputs: [xq, wq.q, xz, wq.zp], outputs: [mi] },
        { opType: 'Cast', inputs: [mi], outputs: [cast], attributes: [intAttr('to', DataType.FLOAT)] },
        { opType: 'Mul', inputs: [xs, wq.scale], outputs: [scales] },
        { opType: 'Mul', inputs: [cast, scales], outputs: [y] },
      );
    } else if (node.opType === 'Gather' && opTypes.includes('Gather') && isFloatInit(node.inputs[0])) {
      const [table, indices] = node.inputs, [y] = node.outputs;
      if (!weights.has(table)) {
        const t = initializers.get(table);
        const { scale, zeroPoint, codes } = quantizeAsymmetricUint8(t.data);
        add(`${table}_quantized`, t.dims, codes, DataType.UINT8);
        add(`${table}_scale`, [], Float32Array.of(scale));
        add(`${table}_zero_point`, [], Uint8Array.of(zeroPoint), DataType.UINT8);
        weights.set(table, { q: `${table}_quantized`, scale: `${table}_scale`, zp: `${table}_zero_point` });
      }
      const q = weights.get(table);
      out.push({ ...node, inputs: [q.q, indices], outputs: [`${y}_quantized`] });
      dequantize.set(y, { opType: 'DequantizeLinear', inputs: [`${y}_quantized`, q.scale, q.zp], outputs: [y], name: `${y}_DequantizeLinear` });
    } else {
      out.push(node);
    }
  }
  for (const dq of dequantize.values()) out.push(dq); // a graph output read by no node

  const used = new Set(out.flatMap((n) => n.inputs));
  return {
    ...graph,
    nodes: out,
    initializers: [...initializers.values()].filter((t) => used.has(t.name)),
  };
}

/** Bytes of a graph's initializers (the size of the .onnx file, near enough). */
export const initializerBytes = (graph) => graph.initializers.reduce((n, t) => n + t.data.byteLength, 0);
