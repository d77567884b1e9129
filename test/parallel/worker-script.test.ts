// A worker script that is not this build's: one that never answers (createEngine rejects after
// the start deadline, naming the script's URL, instead of pending forever) and one of another
// protocol (a stale cached worker.js: refused at once, naming both versions). Each runs on a copy
// of dist/ whose worker.js is replaced, in a child process, which must then exit by itself.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const DIST = fileURLToPath(new URL('../../dist/', import.meta.url));
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A copy of dist/ (the bundle and the kernels) with `worker` as its worker.js; runs `main`. */
function run(worker: string): { status: number | null; stdout: string; stderr: string; error?: Error } {
  const dir = mkdtempSync(join(tmpdir(), 'wasm-attention-worker-'));
  dirs.push(dir);
  for (const f of readdirSync(DIST)) if (f === 'index.js' || f.endsWith('.wasm')) copyFileSync(join(DIST, f), join(dir, f));
  writeFileSync(join(dir, 'worker.js'), worker);
  writeFileSync(join(dir, 'main.mjs'), `
globalThis[Symbol.for('wasm-attention.poolStartTimeoutMs')] = 1500;
const { createEngine } = await import('./index.js');
try {
  await createEngine({ threads: 2 });
  console.log('created');
} catch (error) {
  console.log('rejected: ' + error.message);
}
const one = await createEngine({ threads: 1 });
console.log('one thread: ' + (await one.gelu(new Float32Array([1])))[0]);
`);
  return spawnSync(process.execPath, [join(dir, 'main.mjs')], { encoding: 'utf8', timeout: 30_000 });
}

describe('a worker script of another build', () => {
  it('one that never answers: createEngine rejects after the start deadline naming worker.js, and the process exits', () => {
    const r = run(`import { parentPort } from 'node:worker_threads'; parentPort.on('message', () => {});`);
    expect(r.error, 'the process did not exit').toBeUndefined();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^rejected: wasm-attention: the worker pool could not start: workers 0, 1 did not answer within 1\.5 s of starting \(is file:\/\/\S+\/worker\.js the worker script of this build\?\)$/m);
    expect(r.stdout).toMatch(/^one thread: 0\.841344/m);
  }, 40_000);

  it('one of an older protocol (a stale cached copy): refused at once, naming both versions', () => {
    const r = run(`import { parentPort } from 'node:worker_threads';
parentPort.on('message', (m) => parentPort.postMessage({ type: 'ready', index: m.index, int8Mode: m.relaxedDot }));`);
    expect(r.error, 'the process did not exit').toBeUndefined();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^rejected: wasm-attention: the worker pool could not start: worker \d runs a worker script of another build \(protocol undefined, this one \d+\): serve the worker\.js of the same wasm-attention build as index\.js \(file:\/\/\S+\/worker\.js\)$/m);
    expect(r.stdout).toMatch(/^one thread: 0\.841344/m);
  }, 40_000);

  it('a real worker.js of another protocol, which refuses the host itself: the error names the script', () => {
    const source = readFileSync(join(DIST, 'worker.js'), 'utf8');
    const match = /^var PROTOCOL = (\d+);$/m.exec(source);
    expect(match, 'dist/worker.js defines PROTOCOL').not.toBeNull();
    const r = run(source.replace(match![0], `var PROTOCOL = ${Number(match![1]) + 1};`));
    expect(r.error, 'the process did not exit').toBeUndefined();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^rejected: wasm-attention: the worker pool could not start: worker \d failed to start \(file:\/\/\S+\/worker\.js\): worker \d: this worker script speaks protocol \d+, the host \d+: serve the worker\.js of the same wasm-attention build as its index\.js$/m);
    expect(r.stdout).toMatch(/^one thread: 0\.841344/m);
  }, 40_000);
});
