// Runtimes without shared memory, and hosts without Atomics.waitAsync (run in child processes,
// since both change globals for the whole process).
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';

const dist = new URL('../../dist/index.js', import.meta.url).href;

function node(args: string[], script: string) {
  const child = spawnSync(process.execPath, [...args, '--input-type=module', '-e', script], { timeout: 30000, encoding: 'utf8' });
  return { ...child, out: child.stdout.trim() };
}

describe('fallbacks', () => {
  it('without SharedArrayBuffer, threads: 2 runs on 1 thread with one warning saying why', () => {
    const { out, stderr, status } = node(['--no-harmony-sharedarraybuffer'], `
      const { createEngine } = await import('${dist}');
      const warnings = [];
      console.warn = (m) => warnings.push(String(m));
      const e = await createEngine({ threads: 2 });
      const q = new Float32Array(2 * 3 * 4).fill(0.5);
      const r = await e.attention(q, q, q, { batch: 1, heads: 2, seqQ: 3, seqK: 3, headDim: 4 });
      await e.dispose();
      console.log(JSON.stringify({ threads: e.threads, shared: e.features.sharedMemory, warnings, out: r.output[0] }));`);
    expect(status, stderr).toBe(0);
    const result = JSON.parse(out);
    expect(result.threads).toBe(1);
    expect(result.shared).toBe(false);
    expect(result.warnings).toHaveLength(1);
    expect(result.warnings[0]).toMatch(/2 threads requested, running on 1: SharedArrayBuffer is unavailable.*Cross-Origin-Opener-Policy: same-origin.*Cross-Origin-Embedder-Policy/);
    expect(result.out).toBeCloseTo(0.5, 6);
  });

  it("without SharedArrayBuffer, threads: 'auto' quietly runs on 1 thread", () => {
    const { out, status, stderr } = node(['--no-harmony-sharedarraybuffer'], `
      const { createEngine } = await import('${dist}');
      let warned = 0;
      console.warn = () => warned++;
      const e = await createEngine({ threads: 'auto' });
      await e.dispose();
      console.log(JSON.stringify({ threads: e.threads, warned }));`);
    expect(status, stderr).toBe(0);
    expect(JSON.parse(out)).toEqual({ threads: 1, warned: 0 });
  });

  it('without Atomics.waitAsync (Firefox, Safari < 16.4), completion comes by message', () => {
    const { out, status, stderr } = node([], `
      delete Atomics.waitAsync;
      const { createEngine } = await import('${dist}');
      const one = await createEngine({ threads: 1 }), two = await createEngine({ threads: 2 });
      const q = Float32Array.from({ length: 4 * 200 * 16 }, (_, i) => Math.sin(i));
      const o = { batch: 1, heads: 4, seqQ: 200, seqK: 200, headDim: 16, causal: true };
      const a = await one.attention(q, q, q, o), b = await two.attention(q, q, q, o);
      await one.dispose(); await two.dispose();
      console.log(JSON.stringify({ threads: two.threads, same: a.output.every((x, i) => Object.is(x, b.output[i])) }));`);
    expect(status, stderr).toBe(0);
    expect(JSON.parse(out)).toEqual({ threads: 2, same: true });
  });
});
