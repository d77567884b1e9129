// npm run test:runtimes: the shared smoke suite (test/runtimes/suite.mjs: every PyTorch fixture,
// threads 1 and, where the runtime has workers and SharedArrayBuffer, 2; bad inputs; the shipped
// char-GPT's greedy generation against PyTorch's, models/char-gpt/greedy.json) in every
// runtime the library claims, one child process per runtime:
//
//   node          Node (this one), baseline build                 test/runtimes/node.mjs
//   node-relaxed  Node with --experimental-wasm-relaxed-simd       test/runtimes/node.mjs
//   deno          Deno 2 (npm package deno)                        test/runtimes/deno.mjs
//   bun           Bun (npm package bun)                            test/runtimes/bun.mjs
//   workerd       workerd (npm package workerd), 3 services        test/runtimes/workerd/run.mjs
//   chromium      Debian's Chromium via playwright-core            test/runtimes/browser/run.mjs
//   bundlers      an app built by Vite and by esbuild, in Chromium  test/runtimes/bundlers/run.mjs
//   demo          the demo page in that Chromium: heatmaps render  test/runtimes/demo/run.mjs
//
// node scripts/test-runtimes.mjs [--verbose] [runtime ...]   (default: all; needs dist/, so the
// npm script builds first). A runtime that cannot be started, times out, exits non-zero, prints
// no closing `N passed, M failed` line or passes nothing is a failure. One thing is skipped: the
// three browser runtimes when no Chromium is installed (/usr/bin/chromium, or the path in
// WASM_ATTENTION_CHROMIUM), so that `npm test` passes on a fresh machine; the summary then says so
// and gives the install command. WASM_ATTENTION_REQUIRE_BROWSER=1 (.ci/run sets it, so CI never
// skips) makes a missing browser a failure instead.
// Prints each runtime's failing lines (everything with --verbose), a summary table, and
// `N passed, M failed` over all runtimes last (`, K skipped` after it when K runtimes were);
// exits 1 on any failure.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CHROMIUM, CHROMIUM_INSTALL, chromiumBinary, npmBinary, pinned, EXPECT_INT8_DOT } from './runtime-binaries.mjs';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const DEADLINE_MS = 290_000; // the whole run, so a hang cannot take more than ~5 minutes
const NODE_MAJOR = Number(process.versions.node.split('.')[0]);
const REQUIRE_BROWSER = process.env.WASM_ATTENTION_REQUIRE_BROWSER ?? '';

/**
 * A runtime that needs Chromium: skipped when none is installed, unless REQUIRE_BROWSER is 1;
 * a Chromium that is there but does not start is always a failure.
 */
const inChromium = (what, spec) => () => {
  const bin = chromiumBinary();
  if (bin.absent && REQUIRE_BROWSER !== '1') return { describe: what, skipped: bin.absent };
  if (bin.absent) {
    return { describe: what, error: `${bin.absent}, and WASM_ATTENTION_REQUIRE_BROWSER=1 forbids skipping: ` +
      `install Debian's with \`${CHROMIUM_INSTALL}\`` };
  }
  if (bin.error) return { describe: what, error: bin.error };
  return { describe: `${what}; ${bin.version}`, ...spec };
};

const RUNTIMES = {
  node: () => ({
    describe: `node ${process.version}, baseline build`,
    command: process.execPath,
    args: ['test/runtimes/node.mjs', '--expect-kernels', NODE_MAJOR < 22 ? 'simd' : 'relaxed'],
    timeoutMs: 90_000,
  }),
  'node-relaxed': () => ({
    describe: `node ${process.version}${NODE_MAJOR < 22 ? ' --experimental-wasm-relaxed-simd' : ''}, relaxed build`,
    command: process.execPath,
    args: [...(NODE_MAJOR < 22 ? ['--experimental-wasm-relaxed-simd'] : []), 'test/runtimes/node.mjs',
      '--expect-kernels', 'relaxed'],
    timeoutMs: 90_000,
  }),
  deno: () => {
    const bin = npmBinary('deno');
    if (bin.error) return bin;
    return {
      describe: bin.version,
      command: bin.path,
      args: ['run', '--no-config', '--no-remote', '--no-npm', '--no-prompt', '--allow-read=dist,test,models/char-gpt',
        'test/runtimes/deno.mjs', '--expect-kernels', 'relaxed', ...(EXPECT_INT8_DOT ? ['--expect-int8-dot', EXPECT_INT8_DOT] : [])],
      timeoutMs: 90_000,
    };
  },
  bun: () => {
    const bin = npmBinary('bun');
    if (bin.error) return bin;
    return { describe: `bun ${bin.version}`, command: bin.path, args: ['./test/runtimes/bun.mjs'], timeoutMs: 90_000 };
  },
  workerd: () => {
    const bin = npmBinary('workerd');
    if (bin.error) return bin;
    return {
      describe: bin.version,
      command: process.execPath,
      args: ['test/runtimes/workerd/run.mjs', bin.path],
      timeoutMs: 120_000,
    };
  },
  chromium: inChromium(`the suite in ${CHROMIUM}, with and without COOP/COEP, via playwright-core ` +
    pinned('playwright-core'), {
    command: process.execPath,
    args: ['test/runtimes/browser/run.mjs'],
    timeoutMs: 180_000,
  }),
  bundlers: inChromium('an app importing the package, built by Vite (no configuration) and esbuild, in Chromium', {
    command: process.execPath,
    args: ['test/runtimes/bundlers/run.mjs'],
    timeoutMs: 180_000,
  }),
  demo: inChromium('the demo page (examples/demo/) in Chromium, COOP/COEP served', {
    command: process.execPath,
    args: ['test/runtimes/demo/run.mjs'],
    timeoutMs: 180_000,
  }),
};

/** Runs one child to completion (its process group is killed at the timeout). */
function run(command, args, timeoutMs) {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: ROOT,
      detached: true, // its own process group: a timeout also stops what it started (workerd, Chromium)
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', DENO_NO_UPDATE_CHECK: '1' },
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      resolve({ code: null, stdout, stderr: `${stderr}${error.message}`, timedOut });
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

async function main() {
  const argv = process.argv.slice(2);
  const verbose = argv.includes('--verbose');
  const names = argv.filter((a) => !a.startsWith('--'));
  const unknown = names.filter((n) => !(n in RUNTIMES));
  if (unknown.length) {
    console.log(`unknown runtime(s) ${unknown.join(', ')}; known: ${Object.keys(RUNTIMES).join(', ')}`);
    console.log('0 passed, 1 failed');
    process.exitCode = 1;
    return;
  }
  if (!['', '0', '1'].includes(REQUIRE_BROWSER)) {
    console.log(`FAIL - WASM_ATTENTION_REQUIRE_BROWSER is ${JSON.stringify(REQUIRE_BROWSER)}: set it to 1 (a missing ` +
      'browser fails the run) or 0 or leave it unset (the browser runtimes are skipped without a browser)');
    console.log('0 passed, 1 failed');
    process.exitCode = 1;
    return;
  }
  const selected = names.length ? names : Object.keys(RUNTIMES);
  const started = Date.now();
  const results = [];

  const missing = ['index.js', 'worker.js', 'kernels-simd.wasm', 'kernels-relaxed.wasm',
    'kernels-simd-unshared.wasm', 'kernels-relaxed-unshared.wasm'].filter((f) => !existsSync(`${ROOT}dist/${f}`));
  if (missing.length) {
    console.log(`FAIL - dist/ lacks ${missing.join(', ')}: run \`npm run build\` first (npm run test:runtimes does)`);
    console.log('0 passed, 1 failed');
    process.exitCode = 1;
    return;
  }

  for (const name of selected) {
    const t0 = Date.now();
    const spec = RUNTIMES[name]();
    const result = { name, describe: spec.describe ?? name, passed: 0, failed: 0, problems: [] };
    results.push(result);
    console.log(`\n== ${name}: ${spec.describe ?? '(cannot run)'}`);
    if (spec.skipped) {
      result.skipped = spec.skipped;
    } else if (spec.error) {
      result.problems.push(spec.error);
    } else {
      const remaining = DEADLINE_MS - (Date.now() - started);
      const timeoutMs = Math.max(1000, Math.min(spec.timeoutMs, remaining));
      console.log(`   ${[spec.command.replace(ROOT, ''), ...spec.args].join(' ')}`);
      const r = await run(spec.command, spec.args, timeoutMs);
      const lines = r.stdout.trimEnd().split('\n');
      const summary = /^(\d+) passed, (\d+) failed$/.exec(lines.at(-1) ?? '');
      if (summary) {
        result.passed = Number(summary[1]);
        result.failed = Number(summary[2]);
      }
      if (r.timedOut) result.problems.push(`timed out after ${(timeoutMs / 1000).toFixed(0)} s (killed)`);
      if (!summary) {
        result.problems.push(`its output has no closing "N passed, M failed" line (exit ${r.signal ?? r.code})`);
      } else if (result.passed === 0) {
        result.problems.push('it passed no check');
      }
      if (summary && !r.timedOut && (r.code === 0) !== (result.failed === 0)) {
        result.problems.push(`exit ${r.signal ?? r.code} does not agree with ${result.failed} failed checks`);
      }
      const ok = result.problems.length === 0 && result.failed === 0;
      // Every line with --verbose or when the output is not the suite's; else notes and failures.
      const shown = verbose || !summary ? lines : lines.filter((l) => l.startsWith('FAIL') || l.startsWith('# '));
      for (const line of shown) console.log(`   ${line}`);
      const stderr = r.stderr.trim();
      if (stderr && (verbose || !ok)) {
        console.log('   -- stderr:');
        for (const line of stderr.split('\n').slice(-40)) console.log(`   ${line}`);
      }
    }
    result.seconds = (Date.now() - t0) / 1000;
    result.ok = result.problems.length === 0 && result.failed === 0;
    result.status = result.skipped ? 'SKIPPED' : result.ok ? 'PASS' : 'FAIL';
    for (const p of result.problems) console.log(`   FAIL - ${name}: ${p}`);
    console.log(result.skipped
      ? `   SKIPPED ${name}: not run, ${result.skipped}; the notice at the end says how to install it`
      : `   ${result.status} ${name}: ${result.passed} passed, ${result.failed} failed ` +
        `(${result.seconds.toFixed(1)} s)`);
  }

  console.log('\nruntime        result  passed  failed  time');
  for (const r of results) {
    console.log(`${r.name.padEnd(14)} ${r.status.padEnd(7)} ${String(r.passed).padStart(6)}  ` +
      `${String(r.failed + (r.failed === 0 && !r.ok ? 1 : 0)).padStart(6)}  ${r.seconds.toFixed(1)} s` +
      (r.skipped ? '  not run' : r.ok ? '' : `  ${r.problems.join('; ') || 'checks failed'}`));
  }
  const bad = results.filter((r) => !r.ok);
  if (bad.length) console.log(`\nFAILED runtimes: ${bad.map((r) => r.name).join(', ')}`);
  const skipped = results.filter((r) => r.skipped);
  if (skipped.length) {
    // Loud and last but one, so that a run that passes without its browser checks cannot be mistaken
    // for a full one. Every skip has the same cause (one browser path), so the first reason says it.
    const width = Math.max(...skipped.map((r) => r.name.length));
    console.log(`\n!! SKIPPED ${skipped.map((r) => r.name).join(', ')}: ${skipped[0].skipped}, so these did not run:`);
    for (const r of skipped) console.log(`!!   ${r.name.padEnd(width)}  ${r.describe}`);
    console.log('!! (npm test\'s vitest run skipped its one browser test for the same reason: test/bench/run.test.ts,');
    console.log('!! "runs the same in Chromium pages".)');
    console.log('!! This run has not checked the library in a browser. Install Debian\'s Chromium and run again:');
    console.log(`!!   ${CHROMIUM_INSTALL}`);
    console.log('!! (WASM_ATTENTION_CHROMIUM=<path> drives another Chromium. WASM_ATTENTION_REQUIRE_BROWSER=1 makes');
    console.log('!! a missing browser a failure instead: .ci/run sets it, so CI never skips.)');
    if (process.env.CI) {
      console.log('!! CI is set, but WASM_ATTENTION_REQUIRE_BROWSER=1 is not, so this CI run skipped them.');
    }
  }
  const passed = results.reduce((n, r) => n + r.passed, 0);
  // A runtime that failed without failing checks (could not start, timed out, …) counts as one.
  const failed = results.reduce((n, r) => n + r.failed + (r.failed === 0 && !r.ok ? 1 : 0), 0);
  console.log(`${passed} passed, ${failed} failed${skipped.length ? `, ${skipped.length} skipped` : ''}`);
  process.exitCode = bad.length === 0 ? 0 : 1;
}

await main();
