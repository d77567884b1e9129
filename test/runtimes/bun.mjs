// Bun harness of the runtime smoke suite: bun test/runtimes/bun.mjs [--expect-kernels simd|relaxed]
// Reads the fixtures with Bun.file and runs the shared suite on threads 1 and 2 (JavaScriptCore:
// Bun 1.4 validates relaxed SIMD, so auto picks the relaxed build; the baseline one is forced too).
import { runSuite } from './suite.mjs';
import * as lib from '../../dist/index.js';

const at = Bun.argv.indexOf('--expect-kernels');
const expectKernels = at >= 0 ? Bun.argv[at + 1] : undefined;
const fixture = (name) => Bun.file(new URL(`../fixtures/${name}.json`, import.meta.url)).json();

const { failed } = await runSuite({
  runtime: `bun ${Bun.version} (${Bun.revision.slice(0, 9)})`,
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
    name: 'bun: Worker and SharedArrayBuffer present',
    fn: () => {
      if (typeof Worker !== 'function') throw new Error('no Worker');
      if (typeof SharedArrayBuffer !== 'function') throw new Error('no SharedArrayBuffer');
    },
  }],
});
process.exit(failed === 0 ? 0 : 1);
