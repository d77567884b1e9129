// The TensorFlow.js peer: @tensorflow/tfjs-core on @tensorflow/tfjs-backend-wasm (XNNPACK kernels,
// SIMD build), composed from tf ops the straightforward way a tfjs user would write
// nn.MultiheadAttention / scaled dot-product attention. Runs in the same process as the other
// benches so it sees the same machine state.
//
// What a caller must know:
// - One thread. The backend's threaded build cannot start in Node: its feature flag
//   WASM_HAS_MULTITHREAD_SUPPORT is hard-wired to false when IS_NODE (tfjs#3830), so it loads
//   tfjs-backend-wasm-simd.wasm; we also set that flag and setThreadsCount(1) explicitly.
// - The .wasm files are read from the package's own dist/ directory (a file path prefix given
//   to setWasmPaths before the backend initialises; emscripten reads it with fs, no network).
//   setWasmPaths only works before the first tf.setBackend('wasm'), so the backend is set up
//   once per process.
// - Weights and masks are tensors created once (per layer / per attention shape); each run
//   uploads its inputs, runs the ops inside tf.tidy (every intermediate is freed), and copies
//   the output out with dataSync(), as any JS caller of tfjs pays.
// - tfjs-backend-wasm 4.22's BatchMatMul uses XNNPACK only for !transposeA && !transposeB with
//   batch 1 (src/cc/batch_mat_mul_impl.cc); every other case runs a scalar blocked loop
//   (~2 GFLOP/s here). So the projections keep their weights transposed once, at creation, to
//   [in, out] (the layout of a tfjs Dense kernel) and call matMul(x, W): 5.5 ms vs 67 ms for
//   128×768·768ᵀ with matMul(x, W_torch, false, true). `mha({ preTranspose: false })` gives the
//   transposeB form. The attention core's matMuls are batched over batch × heads and always
//   take the scalar loop, whichever transpose flags are used.

import { checkLength, checkMhaWeights } from './inputs.mjs';
import { createRequire } from 'node:module';
import { dirname, sep } from 'node:path';

const require = createRequire(import.meta.url);

/** tfjs-core and the backend module, set up once per process. */
let setup = null;

async function initTfjs() {
  if (setup) return setup;
  setup = (async () => {
    // Lazy imports: benches that never touch this peer should not load tfjs.
    const tf = await import('@tensorflow/tfjs-core');
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const distDir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm')) + sep;
    wasm.setWasmPaths(distDir); // a directory prefix: must end with the separator
    wasm.setThreadsCount(1);
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    if (!(await tf.setBackend('wasm'))) throw new Error('createTfjsPeer: the tfjs wasm backend failed to initialise');
    await tf.ready();
    return { tf, wasm };
  })();
  return setup;
}

/** Additive mask [batch or 1, 1, seqQ, seqK] (0 kept, -1e9 masked), or null when nothing is masked. */
function maskValues({ batch, seqQ, seqK, causal, validLens }) {
  if (!causal && validLens == null) return null;
  if (validLens != null) {
    if (validLens.length !== batch) throw new RangeError(`validLens has ${validLens.length} entries, expected batch = ${batch}`);
    for (const len of validLens) {
      if (!Number.isInteger(len) || len < 1 || len > seqK) throw new RangeError(`validLens entries must be integers in 1..${seqK}, got ${len}`);
    }
  }
  const rows = validLens != null ? batch : 1;
  const m = new Float32Array(rows * seqQ * seqK);
  for (let b = 0; b < rows; b++) {
    for (let i = 0; i < seqQ; i++) {
      // torch's is_causal is top-left aligned: query i sees keys j <= i.
      const end = Math.min(validLens != null ? validLens[b] : seqK, causal ? i + 1 : seqK);
      m.fill(-1e9, (b * seqQ + i) * seqK + end, (b * seqQ + i + 1) * seqK);
    }
  }
  return { data: m, shape: [rows, 1, seqQ, seqK] };
}

/**
 * Create a tfjs-backend-wasm peer (one thread).
 *
 * @returns {Promise<{
 *   version: string,
 *   threads: 1,
 *   mha(o: { batch: number, seq: number, embed: number, heads: number, causal?: boolean,
 *            preTranspose?: boolean, // default true: weights stored [in, out]; false: matMul(…, true)
 *            weights: { inProjWeight: Float32Array, inProjBias: Float32Array,
 *                       outProjWeight: Float32Array, outProjBias: Float32Array } })
 *     : { run(x: Float32Array): Promise<Float32Array> },
 *   attentionCore(o: { batch: number, heads: number, seqQ: number, seqK: number, headDim: number,
 *                      causal?: boolean, validLens?: ArrayLike<number> })
 *     : { run(q: Float32Array, k: Float32Array, v: Float32Array): Promise<Float32Array> },
 *   dispose(): Promise<void>,
 * }>}
 */
export async function createTfjsPeer() {
  const { tf, wasm } = await initTfjs();
  const owned = []; // tensors created once (weights, masks), freed by dispose()
  const keep = (t) => (owned.push(t), t);

  /** softmax(q·kᵀ·scale + mask)·v on [.., heads, seq, d] tensors (inside a tidy). */
  function sdpa(q, k, v, scale, mask) {
    let scores = tf.mul(tf.matMul(q, k, false, true), scale);
    if (mask) scores = tf.add(scores, mask);
    return tf.matMul(tf.softmax(scores), v);
  }

  /** Run fn inside tf.tidy and copy its output tensor out as a Float32Array. */
  function evaluate(fn) {
    const y = tf.tidy(fn);
    try {
      return y.dataSync();
    } finally {
      y.dispose();
    }
  }

  return {
    version: wasm.version_wasm,
    threads: 1,

    /**
     * nn.MultiheadAttention(batch_first=True) self-attention: x·W_qᵀ + b_q etc. (torch's
     * in_proj_weight split into its Q, K, V blocks once), heads by reshape + transpose,
     * SDPA, heads merged back, out projection.
     */
    mha({ batch, seq, embed, heads, weights, causal = false, preTranspose = true }) {
      checkMhaWeights(embed, heads, weights);
      const { inProjWeight, inProjBias, outProjWeight, outProjBias } = weights;
      const d = embed / heads, E2 = embed * embed;
      // torch [out, in] → [in, out] once (preTranspose), so y = x·W takes XNNPACK's path.
      const weight = (data) => keep(preTranspose ? tf.tidy(() => tf.transpose(tf.tensor2d(data, [embed, embed]))) : tf.tensor2d(data, [embed, embed]));
      const linear = (x2, w, b) => tf.add(tf.matMul(x2, w, false, !preTranspose), b);
      const w = [0, 1, 2].map((i) => weight(inProjWeight.subarray(i * E2, (i + 1) * E2)));
      const b = [0, 1, 2].map((i) => keep(tf.tensor1d(inProjBias.subarray(i * embed, (i + 1) * embed))));
      const wOut = weight(outProjWeight);
      const bOut = keep(tf.tensor1d(outProjBias));
      const m = maskValues({ batch, seqQ: seq, seqK: seq, causal });
      const mask = m && keep(tf.tensor(m.data, m.shape));
      const n = batch * seq * embed;
      return {
        async run(x) {
          checkLength('x', x, n);
          return evaluate(() => {
            const x2 = tf.tensor2d(x, [batch * seq, embed]);
            // [B·L, E] → [B, L, H, d] → [B, H, L, d]
            const [q, k, v] = [0, 1, 2].map((i) =>
              tf.transpose(tf.reshape(linear(x2, w[i], b[i]), [batch, seq, heads, d]), [0, 2, 1, 3]));
            const ctx = sdpa(q, k, v, 1 / Math.sqrt(d), mask);
            const merged = tf.reshape(tf.transpose(ctx, [0, 2, 1, 3]), [batch * seq, embed]);
            return linear(merged, wOut, bOut);
          });
        },
      };
    },

    /** F.scaled_dot_product_attention on [batch, heads, seq, headDim], scale 1/√headDim. */
    attentionCore({ batch, heads, seqQ, seqK, headDim, causal = false, validLens }) {
      const qShape = [batch, heads, seqQ, headDim], kvShape = [batch, heads, seqK, headDim];
      const m = maskValues({ batch, seqQ, seqK, causal, validLens });
      const mask = m && keep(tf.tensor(m.data, m.shape));
      const nq = batch * heads * seqQ * headDim, nkv = batch * heads * seqK * headDim;
      return {
        async run(q, k, v) {
          checkLength('q', q, nq);
          checkLength('k', k, nkv);
          checkLength('v', v, nkv);
          return evaluate(() => sdpa(tf.tensor4d(q, qShape), tf.tensor4d(k, kvShape), tf.tensor4d(v, kvShape), 1 / Math.sqrt(headDim), mask));
        },
      };
    },

    /** nn.Linear without bias: A [m, k] · Wᵀ with W [n, k], transposed once to [k, n] (the
     * layout tfjs's Dense uses, which takes XNNPACK's fast path; see mha). */
    gemm({ m, n, k, weight }) {
      checkLength('weight', weight, n * k);
      const w = keep(tf.tidy(() => tf.transpose(tf.tensor2d(weight, [n, k]))));
      return {
        async run(a) {
          checkLength('a', a, m * k);
          return evaluate(() => tf.matMul(tf.tensor2d(a, [m, k]), w));
        },
      };
    },

    /** Free this peer's weights and masks. The backend itself stays for the process. */
    async dispose() {
      for (const t of owned.splice(0)) t.dispose();
    },
  };
}
