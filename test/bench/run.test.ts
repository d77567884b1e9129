// `npm run bench` end to end on one small shape, one short round: every implementation starts,
// runs on the same inputs and agrees with the plain-JS reference. Timings are not checked
// (they belong to the benchmark, never to a test); that the pipeline works from a clean clone is.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromiumBinary } from '../../scripts/runtime-binaries.mjs';
// @ts-expect-error: a JavaScript module of the bench, without types
import { maxAbsDiff, mismatches } from '../../bench/harness.mjs';

const RUN = fileURLToPath(new URL('../../bench/run.mjs', import.meta.url));
// As the runtime suite: without Debian's Chromium the browser run is skipped, except in CI.
const noBrowser = !chromiumBinary().path && process.env.WASM_ATTENTION_REQUIRE_BROWSER !== '1';

interface Row { shape: string; impl: string; threads: number; median: number; maxDiff: number; share?: number; skipped?: string }

describe('bench/harness.mjs: what fails a run', () => {
  it('mismatches: an output off by more than 1e-3, NaN, truncated, or other tokens; int8 rows only when missing or truncated', () => {
    const row = (maxDiff: number | null, extra: Record<string, unknown> = {}) => ({ shape: 's', impl: 'i', threads: 1, maxDiff, ...extra });
    const q8 = (r: { shape: string }) => r.shape === 'q8';
    const fine = [row(0), row(2e-6), row(1e-3), row(null), row(0.5, { skipped: 'no browser' }), row(5e-6, { tokensMatch: true }),
      row(0.3, { shape: 'q8', tokensMatch: false })];
    expect(mismatches(fine, q8)).toEqual([]);
    const wrong = [row(1.1e-3), row(0.7), row(Number.NaN), row(Infinity), row(0, { tokensMatch: false }), row(Infinity, { shape: 'q8' })];
    expect(mismatches(wrong, q8)).toEqual(wrong);
    // A truncated output is Infinity, not the difference over the shorter length.
    expect(maxAbsDiff(Float32Array.of(1, 2), Float32Array.of(1, 2, 3))).toBe(Infinity);
    expect(maxAbsDiff(Float32Array.of(1, 2), Float32Array.of(1, 2.5))).toBe(0.5);
  });
});

describe('bench/run.mjs', () => {
  it('runs every implementation of a shape, each output within 1e-4 of plain JS', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wasm-attention-bench-'));
    try {
      const out = join(dir, 'run.json');
      const table = execFileSync(process.execPath, [RUN, '--quick', `--out=${out}`, 'gemm-128x3072x768'],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 240_000 });
      const { rows, peak, cpu } = JSON.parse(readFileSync(out, 'utf8')) as { rows: Row[]; peak: Record<string, number>; cpu: { cores: number } };
      expect(peak.mulAddGflops).toBeGreaterThan(0);
      expect(cpu.cores).toBeGreaterThan(0);
      const impls = rows.map((r) => `${r.impl.replace(/ [\d.]+$/, '')} ×${r.threads}`);
      // both kernel builds (run.mjs gives Node 20's children --experimental-wasm-relaxed-simd)
      for (const expected of ['plain JS ×1', 'wasm-attention simd ×1', 'wasm-attention relaxed ×1', 'onnxruntime-web ×1',
        ...(availableParallelism() > 1 ? ['onnxruntime-web ×2'] : []), 'tfjs-backend-wasm ×1']) {
        expect(impls).toContain(expected);
      }
      const alternating = rows.filter((r) => r.impl.includes('alternating with the probe'));
      expect(alternating.map((r) => r.impl)).toEqual(['wasm-attention simd (kernel only, alternating with the probe)',
        'wasm-attention relaxed (kernel only, alternating with the probe)']);
      for (const r of alternating) expect(r.share).toBeGreaterThan(0);
      for (const r of rows) {
        expect(r.skipped, `${r.impl} was skipped`).toBeUndefined();
        expect(r.median, r.impl).toBeGreaterThan(0);
        expect(r.maxDiff, r.impl).toBeLessThanOrEqual(1e-4);
        expect(table).toContain(`| ${r.impl} | ${r.threads} |`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);

  // --runtime=chromium: every child (probe, plain JS, ours, ORT) in a page of headless Chromium.
  it.skipIf(noBrowser)('runs the same in Chromium pages (--runtime=chromium), ORT at 1 and 2 threads, ours with both builds', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wasm-attention-bench-'));
    try {
      const out = join(dir, 'run.json');
      const table = execFileSync(process.execPath, [RUN, '--quick', '--runtime=chromium', `--out=${out}`, 'gemm-128x3072x768'],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 240_000 });
      const { rows, peak, runtime } = JSON.parse(readFileSync(out, 'utf8')) as { rows: Row[]; peak: Record<string, number>; runtime: string };
      expect(runtime).toMatch(/Chromium/);
      expect(table).toContain(`Runtime: ${runtime}.`);
      expect(peak.mulAddGflops).toBeGreaterThan(0);
      expect(peak.relaxedMaddGflops).toBeGreaterThan(0); // Chromium runs relaxed SIMD without a flag
      const impls = rows.map((r) => `${r.impl.replace(/ [\d.]+$/, '')} ×${r.threads}`);
      for (const expected of ['plain JS ×1', 'wasm-attention simd ×1', 'wasm-attention relaxed ×1', 'onnxruntime-web ×1',
        ...(availableParallelism() > 1 ? ['onnxruntime-web ×2'] : [])]) {
        expect(impls).toContain(expected);
      }
      expect(impls.some((i) => i.startsWith('tfjs'))).toBe(false);
      for (const r of rows) {
        expect(r.skipped, `${r.impl} was skipped`).toBeUndefined();
        expect(r.median, r.impl).toBeGreaterThan(0);
        expect(r.maxDiff, r.impl).toBeLessThanOrEqual(1e-4);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
