// A process that never disposes its 2-thread engine ends by itself once its work is done: Node,
// and Deno and Bun through their node:worker_threads, whose workers can be unref'd (Deno's web
// Workers cannot: such a process used to wait on them forever).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ESM script without types
import { npmBinary } from '../../scripts/runtime-binaries.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCRIPT = 'test/runtimes/exit-without-dispose.mjs';

const runtimes: [string, () => { command?: string; args: string[]; error?: string }][] = [
  ['node', () => ({ command: process.execPath, args: [SCRIPT] })],
  ['deno', () => {
    const bin = npmBinary('deno');
    return bin.error ? { error: bin.error, args: [] } : { command: bin.path, args: ['run', '--no-config', '--no-remote', '--no-npm', '--no-prompt', '--allow-read=dist,test', SCRIPT] };
  }],
  ['bun', () => {
    const bin = npmBinary('bun');
    return bin.error ? { error: bin.error, args: [] } : { command: bin.path, args: [SCRIPT] };
  }],
];

describe('a process with an undisposed 2-thread engine exits', () => {
  for (const [name, spec] of runtimes) {
    it(name, () => {
      const { command, args, error } = spec();
      if (error) throw new Error(error);
      const r = spawnSync(command!, args, { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
      expect(r.error, `${name} did not exit within 30 s (its workers kept it alive)`).toBeUndefined();
      expect(r.status, r.stderr).toBe(0);
      const m = /threads (\d+) runs (\d+)/.exec(r.stdout);
      expect(m, r.stdout).not.toBeNull();
      expect(Number(m![1])).toBe(2);
      expect(Number(m![2]), 'the calls ran on the workers').toBeGreaterThanOrEqual(2);
    }, 40_000);
  }
});

describe('Deno importing the library over http(s) (esm.sh, a CDN)', () => {
  it('starts its 2-thread pool with web Workers (node:worker_threads takes file: URLs only) and exits after dispose()', async () => {
    const bin = npmBinary('deno');
    if (bin.error) throw new Error(bin.error);
    const { createServer } = await import('node:http');
    const { readFile } = await import('node:fs/promises');
    const server = createServer((req, res) => {
      const name = (req.url ?? '/').slice(1);
      if (!/^[\w.-]+$/.test(name)) { res.writeHead(404).end(); return; }
      readFile(new URL(`../../dist/${name}`, import.meta.url)).then((body) => {
        res.writeHead(200, { 'content-type': name.endsWith('.wasm') ? 'application/wasm' : 'text/javascript' }).end(body);
      }, () => res.writeHead(404).end());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const script = `
const { createEngine } = await import('http://127.0.0.1:${port}/index.js');
const engine = await createEngine({ threads: 2 });
const debug = engine[Symbol.for('wasm-attention.debug')]();
debug.forcePool();
const y = await engine.gelu(new Float32Array([1, 2, 3, 4]));
console.log('threads ' + engine.threads + ' runs ' + (await debug.pool()).runs + ' gelu ' + y[0].toFixed(6));
await engine.dispose();`;
    try {
      const { spawn } = await import('node:child_process');
      const child = spawn(bin.path, ['eval', '--no-config', '--quiet', script], { cwd: ROOT, env: { ...process.env, DENO_NO_UPDATE_CHECK: '1' } });
      let stdout = '', stderr = '';
      child.stdout.on('data', (d) => { stdout += d; });
      child.stderr.on('data', (d) => { stderr += d; });
      const status = await new Promise<number | null>((resolve) => {
        const timer = setTimeout(() => { child.kill(); resolve(null); }, 30_000);
        child.on('exit', (code) => { clearTimeout(timer); resolve(code); });
      });
      expect(status, `deno did not exit 0 within 30 s: ${stderr}`).toBe(0);
      expect(stdout).toMatch(/^threads 2 runs [1-9]\d* gelu 0\.841345$/m);
    } finally {
      server.close();
    }
  }, 40_000);
});

describe('an undisposed 2-thread engine, once garbage-collected, takes its workers with it', () => {
  it('node: 12 dropped engines, collected: the threads they started are gone', () => {
    const dist = new URL('../../dist/index.js', import.meta.url).href;
    const script = `
      import { readdirSync } from 'node:fs';
      const { createEngine } = await import(${JSON.stringify(dist)});
      const threads = () => readdirSync('/proc/self/task').length;
      const before = threads();
      for (let i = 0; i < 12; i++) {
        const e = await createEngine({ threads: 2 });
        await e.matmul(new Float32Array(16), new Float32Array(16), { m: 4, k: 4, n: 4 });
      }
      const dropped = threads();
      for (let i = 0; i < 100 && threads() > before + 4; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 20)); }
      console.log(JSON.stringify({ before, dropped, after: threads() }));`;
    const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const { before, dropped, after } = JSON.parse(r.stdout.trim()) as { before: number; dropped: number; after: number };
    expect(dropped).toBeGreaterThanOrEqual(before + 24); // two workers each
    expect(after).toBeLessThanOrEqual(before + 4);
  }, 70_000);
});
