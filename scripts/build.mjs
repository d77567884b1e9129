// npm run build: the four kernel builds (asc, two at a time), the ESM bundle (esbuild) and the
// type declarations (tsc), into dist/; and four test-only kernel builds into build/, which emulate
// the int8 relaxed dot as x64 AVX-VNNI, x64 AVX-VNNI-INT8 or Arm's sdot, Arm's Liftoff, and x64
// without VNNI compute it (assembly/i8-gemm/i8-relaxed-dot.ts), so the tests run both int8 modes
// and the probe's verdicts on any host. Neither folder is committed; build/ is not shipped.
import { spawn } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { build } from 'esbuild';

const TARGETS = [
  'simd', 'relaxed', 'dot-emulation-unsigned', 'dot-emulation-arm-smull',
  'simd-unshared', 'relaxed-unshared', 'dot-emulation-signed', 'dot-emulation-x64-pmaddubsw',
];

function run(command, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} exited with ${code}`))));
  });
}

const asc = (target) => run(process.execPath, ['node_modules/assemblyscript/bin/asc.js', '--config', 'asconfig.json', '--target', target]);

await Promise.all(['dist', 'build'].map((dir) => rm(dir, { recursive: true, force: true })));
await Promise.all(['dist', 'build'].map((dir) => mkdir(dir)));
const started = performance.now();
await Promise.all([
  (async () => { for (const t of TARGETS.slice(0, 4)) await asc(t); })(),
  (async () => { for (const t of TARGETS.slice(4)) await asc(t); })(),
  build({
    entryPoints: { index: 'src/index.ts', worker: 'src/parallel/worker.ts' },
    outdir: 'dist',
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    external: ['node:*'],
    sourcemap: true,
    logLevel: 'warning',
  }),
  run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json']),
]);
console.error(`build: dist/ in ${((performance.now() - started) / 1000).toFixed(1)} s`);
