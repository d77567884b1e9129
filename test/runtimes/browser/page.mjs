// Browser harness of the runtime smoke suite (run.mjs serves it and drives Chromium). The page
// runs the shared suite with the fixtures, the shipped char-GPT (models/char-gpt/) and the BERT fixture checkpoints fetched over HTTP and leaves the result in
// window.__suite; it prints every line to the console and to the page.
import * as lib from '../../../dist/index.js';
import { loadBert, runSuite } from '../suite.mjs';

const out = document.getElementById('out');
const print = (line) => {
  out.textContent += `${line}\n`;
  console.log(line);
};

async function main() {
  const isolated = location.pathname.startsWith('/isolated/');
  const fixture = async (name) => {
    const response = await fetch(new URL(`../../fixtures/${name}.json`, import.meta.url));
    if (!response.ok) throw new Error(`fixture ${name}: HTTP ${response.status}`);
    return response.json();
  };
  const model = async (name) => {
    const response = await fetch(new URL(`../../../models/char-gpt/${name}`, import.meta.url));
    if (!response.ok) throw new Error(`models/char-gpt/${name}: HTTP ${response.status}`);
    return name.endsWith('.json') ? response.json() : response.arrayBuffer();
  };
  const bertFile = async (path) => {
    const response = await fetch(new URL(`../../fixtures/bert/${path}`, import.meta.url));
    if (!response.ok) throw new Error(`test/fixtures/bert/${path}: HTTP ${response.status}`);
    return path.endsWith('.json') ? response.json() : response.arrayBuffer();
  };
  const configs = isolated
    ? [
      { threads: 1 },
      { threads: 2 },
      { threads: 3 },
      { threads: 2, engineOptions: { kernels: 'simd' }, expectKernels: 'simd', label: 'threads 2, kernels simd' },
    ]
    : [
      { threads: 1 },
      {
        threads: 2, expectThreads: 1, expectWarning: /Cross-Origin-Opener-Policy/,
        label: 'threads 2 (not isolated: falls back to 1)',
      },
    ];
  return runSuite({
    expectInt8Dot: new URLSearchParams(location.search).get('int8Dot') ?? undefined,
    int8Kernels: await WebAssembly.compileStreaming(fetch(new URL('../../../dist/kernels-relaxed-unshared.wasm', import.meta.url))),
    runtime: `${navigator.userAgent.match(/(Headless)?Chrom(e|ium)\/[\d.]+/)?.[0] ?? navigator.userAgent} ` +
      `(${isolated ? 'cross-origin isolated' : 'not isolated'})`,
    lib,
    fixtures: {
      attention: await fixture('attention'),
      mha: await fixture('mha'),
      positionalEncoding: await fixture('positional-encoding'),
    },
    configs,
    charGpt: {
      config: await model('config.json'),
      bytes: await model('model.safetensors'),
      greedy: await model('greedy.json'),
    },
    bert: await loadBert(bertFile, bertFile),
    tokenizer: await (await fetch(new URL('../../fixtures/tokenizer/cases.json', import.meta.url))).json(),
    print,
    checks: [{
      name: `page is ${isolated ? '' : 'not '}cross-origin isolated (crossOriginIsolated === ${isolated})`,
      fn: () => {
        if (globalThis.crossOriginIsolated !== isolated) {
          throw new Error(`crossOriginIsolated is ${globalThis.crossOriginIsolated}`);
        }
        if (isolated && typeof SharedArrayBuffer !== 'function') throw new Error('no SharedArrayBuffer');
      },
    }],
  });
}

main().then(
  ({ passed, failed, lines }) => { window.__suite = { passed, failed, lines }; },
  (error) => {
    print(`the suite threw: ${error?.stack ?? error}`);
    print('0 passed, 1 failed');
    window.__suite = { passed: 0, failed: 1, lines: [String(error?.stack ?? error)] };
  },
);
