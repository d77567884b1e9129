// Bundler check: the app in app/ imports 'wasm-attention' by its bare name and is built with
// Vite (no configuration at all) and with esbuild, served with COOP/COEP and run in Debian's
// headless Chromium. The kernels (.wasm) and the worker must be found, threads 2 must engage and
// give the same bits as 1 thread.
//
// esbuild does not rewrite `new URL('./file', import.meta.url)` into bundled assets
// (evanw/esbuild#795, open), so an esbuild build needs one step, documented in the README:
// copy the package's dist/worker.js and dist/kernels-*.wasm next to the bundle. Vite (and
// webpack 5, Rollup with its URL plugin) need nothing.
// Prints `N passed, M failed` last; exits 1 on any failure, a missing browser included.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_INSTALL, chromiumBinary } from '../../../scripts/runtime-binaries.mjs';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const WORK = join(ROOT, 'test/runtimes/bundlers/.work');
const MIME = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.map': 'application/json' };
let passed = 0, failed = 0;
const check = (ok, what) => {
  console.log(`${ok ? 'ok' : 'FAIL'} ${what}`);
  if (ok) passed++; else failed++;
};

// Before the builds, which take a while: without the browser they would be for nothing.
const bin = chromiumBinary();
if (!bin.path) {
  console.log(`FAIL - ${bin.error ?? `${bin.absent}: install Debian's with \`${CHROMIUM_INSTALL}\``}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}

// A scratch project: the app, and node_modules/wasm-attention linking to this repository.
rmSync(WORK, { recursive: true, force: true });
mkdirSync(join(WORK, 'node_modules'), { recursive: true });
cpSync(join(ROOT, 'test/runtimes/bundlers/app'), join(WORK, 'app'), { recursive: true });
symlinkSync(ROOT, join(WORK, 'node_modules/wasm-attention'), 'dir');
writeFileSync(join(WORK, 'package.json'), JSON.stringify({ name: 'bundler-check', private: true, type: 'module' }));

const builds = {};
try {
  execFileSync(process.execPath, [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', 'app', '--outDir', '../out-vite', '--emptyOutDir', '--base', '/vite/', '--logLevel', 'warn'],
    { cwd: WORK, stdio: 'inherit' });
  builds.vite = join(WORK, 'out-vite');
} catch (error) {
  check(false, `vite build: ${error.message}`);
}
try {
  const out = join(WORK, 'out-esbuild');
  execFileSync(join(ROOT, 'node_modules/.bin/esbuild'), ['app/main.js', '--bundle', '--format=esm', `--outdir=${out}`],
    { cwd: WORK, stdio: 'inherit' });
  cpSync(join(WORK, 'app/index.html'), join(out, 'index.html'));
  // The one documented step for esbuild: the worker and the kernels next to the bundle.
  for (const f of readdirSync(join(ROOT, 'dist'))) if (f === 'worker.js' || f.endsWith('.wasm')) cpSync(join(ROOT, 'dist', f), join(out, f));
  builds.esbuild = out;
} catch (error) {
  check(false, `esbuild build: ${error.message}`);
}

const server = createServer(async (req, res) => {
  const [, name, ...rest] = new URL(req.url, 'http://x').pathname.split('/');
  const dir = builds[name];
  const file = dir && join(dir, rest.join('/') || 'index.html');
  try {
    if (!file || !file.startsWith(dir)) throw new Error('outside');
    const body = await readFile(file);
    res.writeHead(200, {
      'content-type': MIME[extname(file)] ?? 'application/octet-stream',
      'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp',
    }).end(body);
  } catch {
    res.writeHead(404).end();
  }
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${server.address().port}`;
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--headless', '--disable-gpu',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] });
try {
  for (const name of Object.keys(builds)) {
    const page = await browser.newPage();
    const missing = [];
    page.on('response', (r) => { if (r.status() >= 400) missing.push(`${r.status()} ${r.url()}`); });
    page.on('console', (m) => console.log(`# ${name} console: ${m.text()}`));
    page.on('pageerror', (e) => console.log(`# ${name} page error: ${e}`));
    await page.goto(`${base}/${name}/index.html`);
    const done = await page.waitForFunction(() => document.body.dataset.result, null, { timeout: 30_000 }).then(() => true, () => false);
    const result = done ? JSON.parse(await page.evaluate(() => document.body.dataset.result)) : { error: 'no result within 30 s' };
    check(!result.error, `${name}: the app ran${result.error ? `: ${result.error}` : ''}`);
    check(missing.length === 0, `${name}: every file was found ${JSON.stringify(missing)}`);
    check(result.isolated && result.threads === 2, `${name}: threads 2 engaged (${JSON.stringify(result)})`);
    check(result.same && result.row0, `${name}: threads 2 gives the bits of threads 1, and the right numbers`);
    check(JSON.stringify(result.pe) === JSON.stringify([0.8415, 0.5403]), `${name}: positionalEncoding (${result.pe})`);
    await page.close();
  }
} finally {
  await browser.close();
  server.close();
  rmSync(WORK, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
