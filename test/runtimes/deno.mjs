// Deno harness of the runtime smoke suite:
//   deno run --allow-read=. --allow-env test/runtimes/deno.mjs [--expect-kernels simd|relaxed]
// Reads the fixtures with Deno.readTextFile and runs the shared suite on threads 1 and 2
// (web Workers loaded from dist/worker.js, shared WebAssembly.Memory).
import { runSuite } from './suite.mjs';
import * as lib from '../../dist/index.js';

const at = Deno.args.indexOf('--expect-kernels');
const expectKernels = at >= 0 ? Deno.args[at + 1] : undefined;
const fixture = async (name) => JSON.parse(await Deno.readTextFile(new URL(`../fixtures/${name}.json`, import.meta.url)));

const { failed } = await runSuite({
  runtime: `deno ${Deno.version.deno} (V8 ${Deno.version.v8})`,
  lib,
  fixtures: {
    attention: await fixture('attention'),
    mha: await fixture('mha'),
    positionalEncoding: await fixture('positional-encoding'),
  },
  expectKernels,
  configs: [
    { threads: 1 },
    { threads: 2 },
    // The baseline build too, where auto picks the relaxed one.
    { threads: 2, engineOptions: { kernels: 'simd' }, expectKernels: 'simd', label: 'threads 2, kernels simd' },
  ],
  checks: [{
    name: 'deno: Worker and SharedArrayBuffer present',
    fn: () => {
      if (typeof Worker !== 'function') throw new Error('no Worker');
      if (typeof SharedArrayBuffer !== 'function') throw new Error('no SharedArrayBuffer');
    },
  }],
});
Deno.exit(failed === 0 ? 0 : 1);
