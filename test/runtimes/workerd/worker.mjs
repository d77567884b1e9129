// workerd harness of the runtime smoke suite: GET / runs the shared suite and answers with its
// output (status 200 when every check passed, 500 otherwise). No threads here: the engine gets
// the kernels as a WebAssembly.Module (an ES import of the .wasm, as in a Cloudflare Worker),
// threads 1, and threads 2 must fall back to 1 with one console warning. The shipped char-GPT's
// files are modules of the worker (config.capnp), so its greedy check runs on bundled weights;
// so do the BERT fixture checkpoints'.
import * as lib from 'wasm-attention';
import simd from 'wasm-attention/kernels-simd.wasm';
import relaxed from 'wasm-attention/kernels-relaxed.wasm';
import simdUnshared from 'wasm-attention/kernels-simd-unshared.wasm';
import attention from './fixtures/attention.json';
import mha from './fixtures/mha.json';
import positionalEncoding from './fixtures/positional-encoding.json';
import charGptConfig from './char-gpt/config.json';
import charGptGreedy from './char-gpt/greedy.json';
import charGptBytes from './char-gpt/model.safetensors';
import bertExpected from './bert/expected.json';
import prefixedClsConfig from './bert/prefixed-cls/config.json';
import prefixedClsBytes from './bert/prefixed-cls/model.safetensors';
import classifierConfig from './bert/classifier-3/config.json';
import classifierBytes from './bert/classifier-3/model.safetensors';
import taggerConfig from './bert/token-classifier-5/config.json';
import taggerBytes from './bert/token-classifier-5/model.safetensors';
import qaConfig from './bert/qa/config.json';
import qaBytes from './bert/qa/model.safetensors';
import tokenizerCases from './tokenizer/cases.json';
import { BERT_CASES, runSuite } from './suite.mjs';

const bert = {
  expected: bertExpected,
  models: {
    'prefixed-cls': { config: prefixedClsConfig, bytes: prefixedClsBytes },
    'classifier-3': { config: classifierConfig, bytes: classifierBytes },
    'token-classifier-5': { config: taggerConfig, bytes: taggerBytes },
    'qa': { config: qaConfig, bytes: qaBytes },
  },
};
if (BERT_CASES.some((name) => !bert.models[name])) throw new Error('config.capnp does not bundle every case of BERT_CASES');

const relaxedValidates = () => {
  try {
    // (func (param v128) (result v128) local.get 0 local.get 0 local.get 0 f32x4.relaxed_madd)
    return WebAssembly.validate(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 6, 1, 96, 1, 123, 1, 123, 3, 2, 1, 0,
      10, 13, 1, 11, 0, 32, 0, 32, 0, 32, 0, 253, 133, 2, 11]));
  } catch {
    return false;
  }
};

async function run(flavour) {
  const lines = [];
  const print = (line) => lines.push(line);
  const shared = typeof SharedArrayBuffer === 'function';
  const configs = [
    { threads: 1, engineOptions: { wasm: simdUnshared }, expectKernels: 'simd', label: `${flavour}: threads 1, kernels-simd-unshared.wasm` },
    { threads: 1, engineOptions: { wasm: simd }, expectKernels: 'simd', label: `${flavour}: threads 1, kernels-simd.wasm` },
    {
      threads: 2, expectThreads: 1, engineOptions: { wasm: simd }, expectKernels: 'simd',
      expectWarning: /2 threads requested, running on 1: this runtime cannot start workers/,
      label: `${flavour}: threads 2 (no workers: falls back to 1), kernels-simd.wasm`,
    },
    {
      // README's setup (the unshared module): the warning names the runtime, not the module,
      // since a shared build would not give threads here either.
      threads: 2, expectThreads: 1, engineOptions: { wasm: simdUnshared }, expectKernels: 'simd',
      expectWarning: /2 threads requested, running on 1: this runtime cannot start workers/,
      label: `${flavour}: threads 2 (no workers: falls back to 1), kernels-simd-unshared.wasm`,
    },
    {
      threads: 'auto', expectThreads: 1, engineOptions: { wasm: simd }, expectKernels: 'simd',
      label: `${flavour}: threads 'auto' (1), kernels-simd.wasm`,
    },
  ];
  if (relaxedValidates()) {
    configs.push({
      threads: 1, engineOptions: { wasm: relaxed }, expectKernels: 'relaxed',
      label: `${flavour}: threads 1, kernels-relaxed.wasm`,
    });
  }
  const checks = [
    {
      name: `workerd (${flavour}): the .wasm imports are WebAssembly.Module objects`,
      fn: () => {
        for (const m of [simd, relaxed, simdUnshared]) {
          if (!(m instanceof WebAssembly.Module)) throw new Error(`got ${Object.prototype.toString.call(m)}`);
        }
      },
    },
    {
      name: `workerd (${flavour}): createEngine() without options.wasm rejects with an Error saying why`,
      fn: async () => {
        let error;
        try {
          const engine = await lib.createEngine();
          await engine.dispose();
        } catch (e) {
          error = e;
        }
        if (!error) throw new Error('createEngine() without options.wasm resolved (expected: cannot load the kernels)');
        // Not a TypeError/RangeError (those mean a bad argument, and there is none), but the
        // library's own Error saying the kernels could not be loaded.
        if (error instanceof TypeError || error instanceof RangeError || !/^wasm-attention: /.test(error.message)) {
          throw new Error(`rejected with ${error.name}: ${error.message} (expected the library's Error: ` +
            "'wasm-attention: could not compile the … kernels …')");
        }
        print(`# createEngine() without options.wasm: ${error.message}`);
      },
    },
    {
      name: `workerd (${flavour}): createEngine({ wasm: unshared build }) works`,
      fn: async () => {
        const engine = await lib.createEngine({ wasm: simdUnshared });
        try {
          const q = new Float32Array(8).fill(0.5);
          const r = await engine.attention(q, q, q, { batch: 1, heads: 1, seqQ: 2, seqK: 2, headDim: 4 });
          if (r.output.some((x) => Math.abs(x - 0.5) > 1e-6)) throw new Error(`output ${r.output}`);
        } finally {
          await engine.dispose();
        }
      },
    },
  ];
  print(`# workerd (${flavour}): SharedArrayBuffer ${shared ? 'present' : 'absent'}, ` +
    `process ${typeof process === 'undefined' ? 'absent' : `present (versions.node ${process.versions?.node})`}, ` +
    `Worker ${typeof Worker}, Atomics.waitAsync ${typeof Atomics.waitAsync}, import.meta.url ${import.meta.url}`);
  const { failed } = await runSuite({
    runtime: `workerd (${flavour})`,
    lib,
    fixtures: { attention, mha, positionalEncoding },
    configs,
    checks,
    charGpt: { config: charGptConfig, bytes: charGptBytes, greedy: charGptGreedy },
    bert,
    tokenizer: tokenizerCases,
    print,
  });
  return new Response(`${lines.join('\n')}\n`, {
    status: failed === 0 ? 200 : 500,
    headers: { 'content-type': 'text/plain; charset=utf-8' },
  });
}

export default {
  async fetch(request) {
    const flavour = new URL(request.url).searchParams.get('flavour') ?? 'unknown';
    try {
      return await run(flavour);
    } catch (error) {
      return new Response(`the suite threw: ${error?.stack ?? error}\n0 passed, 1 failed\n`, { status: 500 });
    }
  },
};
