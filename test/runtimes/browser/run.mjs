// Browser runs of the runtime smoke suite: serves the repository (dist/, test/runtimes/,
// test/fixtures/, models/char-gpt/ only) on 127.0.0.1 and drives Debian's headless Chromium through
// playwright-core (never a downloaded browser) over two pages:
//   /isolated/test/runtimes/browser/index.html  COOP same-origin + COEP require-corp: threads 2
//   /plain/test/runtimes/browser/index.html     no headers: threads 2 falls back to 1, one warning
// Prints each page's lines, then `N passed, M failed` over both; exits 1 on any failure, a missing
// browser included (scripts/test-runtimes.mjs decides whether to skip this run instead).
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHROMIUM, CHROMIUM_INSTALL, chromiumBinary, EXPECT_INT8_DOT } from '../../../scripts/runtime-binaries.mjs';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SERVED = ['dist', 'test/runtimes', 'test/fixtures', 'models/char-gpt'].map((dir) => resolve(ROOT, dir) + sep);
const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.safetensors': 'application/octet-stream',
};
const PAGE_TIMEOUT_MS = 120_000;

/** The static server: /isolated/<path> with COOP/COEP/CORP, /plain/<path> without. */
function serve() {
  const server = createServer(async (request, response) => {
    const url = new URL(request.url, 'http://127.0.0.1');
    const [, mode, ...rest] = url.pathname.split('/');
    const file = resolve(ROOT, decodeURIComponent(rest.join('/')));
    const headers = { 'cache-control': 'no-store' };
    if (mode === 'isolated') {
      headers['cross-origin-opener-policy'] = 'same-origin';
      headers['cross-origin-embedder-policy'] = 'require-corp';
      headers['cross-origin-resource-policy'] = 'same-origin';
    }
    const type = MIME[extname(file)];
    if ((mode !== 'isolated' && mode !== 'plain') || !type || !SERVED.some((dir) => file.startsWith(dir)) ||
        request.method !== 'GET') {
      response.writeHead(404, headers).end('not found');
      return;
    }
    try {
      const body = await readFile(file);
      response.writeHead(200, { ...headers, 'content-type': type, 'content-length': body.length }).end(body);
    } catch {
      response.writeHead(404, headers).end('not found');
    }
  });
  return new Promise((done, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => done(server));
  });
}

async function runPage(browser, origin, mode) {
  const page = await browser.newPage();
  const problems = [];
  const warnings = [];
  page.on('console', (message) => {
    if (message.type() === 'warning') warnings.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(`uncaught in the page: ${error.message}`));
  page.on('requestfailed', (request) => problems.push(`request failed: ${request.url()} (${request.failure()?.errorText})`));
  page.on('response', (response) => {
    if (response.status() >= 400) problems.push(`HTTP ${response.status()} for ${response.url()}`);
  });
  page.on('crash', () => problems.push('the page crashed'));
  const url = `${origin}/${mode}/test/runtimes/browser/index.html` + (EXPECT_INT8_DOT ? `?int8Dot=${EXPECT_INT8_DOT}` : '');
  let result;
  try {
    await page.goto(url);
    await page.waitForFunction(() => window.__suite !== undefined, null, { timeout: PAGE_TIMEOUT_MS, polling: 100 });
    result = await page.evaluate(() => window.__suite);
  } catch (error) {
    problems.push(`${url}: ${error.message.split('\n')[0]}`);
    result = { passed: 0, failed: 0, lines: [] };
  }
  await page.close();
  let { passed, failed } = result;
  const lines = result.lines.slice(0, -1); // the page's own closing line is replaced below
  const check = (name, ok, detail) => {
    if (ok) passed++; else failed++;
    lines.push(`${ok ? 'ok' : 'FAIL'} - [${mode}, seen from playwright] ${name}${ok ? '' : `: ${detail}`}`);
  };
  const coop = warnings.filter((w) => w.includes('Cross-Origin-Opener-Policy'));
  check(mode === 'plain' ? 'exactly one console warning mentions Cross-Origin-Opener-Policy'
    : 'no console warning mentions Cross-Origin-Opener-Policy',
  coop.length === (mode === 'plain' ? 1 : 0), `got ${JSON.stringify(coop)}`);
  check('no page error, failed request or HTTP error', problems.length === 0, problems.join('; '));
  return { passed, failed, lines };
}

async function main() {
  const bin = chromiumBinary();
  if (!bin.path) {
    console.log(`FAIL - ${bin.error ?? `${bin.absent}: install Debian's with \`${CHROMIUM_INSTALL}\``} ` +
      '(this suite never downloads a browser)');
    console.log('0 passed, 1 failed');
    process.exitCode = 1;
    return;
  }
  let chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch (error) {
    console.log(`FAIL - cannot load playwright-core (${error.message}): run \`npm install\` (devDependency)`);
    console.log('0 passed, 1 failed');
    process.exitCode = 1;
    return;
  }
  const server = await serve();
  const origin = `http://127.0.0.1:${server.address().port}`;
  let browser;
  let passed = 0;
  let failed = 0;
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--no-first-run'],
      timeout: 60_000,
    });
    console.log(`# chromium ${browser.version()} via playwright-core, pages served from ${origin}`);
    for (const mode of ['isolated', 'plain']) {
      const r = await runPage(browser, origin, mode);
      for (const line of r.lines) console.log(line);
      passed += r.passed;
      failed += r.failed;
    }
  } catch (error) {
    console.log(`FAIL - could not drive Chromium: ${error.message.split('\n')[0]}`);
    failed++;
  } finally {
    await browser?.close();
    server.close();
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed === 0 ? 0 : 1;
}

await main();
