// Runs one bench child script in headless Chromium (Debian's, via playwright-core; never a
// downloaded browser), as bench/run.mjs --runtime=chromium runs every child:
//   node bench/browser/child.mjs <script under bench/> [args ...]
// The page (bench/browser/child.html) is cross-origin isolated, so both sides get threads, and it
// maps the few node: modules the children import to shims (bench/browser/node-*.mjs) and
// `onnxruntime-web` to its browser build with the wasm backend only (ort.wasm.bundle.min.mjs).
// The page's console.log lines go to stdout, its warnings and errors to stderr; the exit code is
// the script's. This process serves the repository read-only, and writes under bench/results/.
import { createServer } from 'node:http';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, extname, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHROMIUM_INSTALL, chromiumBinary } from '../../scripts/runtime-binaries.mjs';
import { buildPeak } from '../peak-probe.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WRITABLE = resolve(ROOT, 'bench/results') + sep;
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.wasm': 'application/wasm', '.json': 'application/json' };
const TIMEOUT_MS = 30 * 60_000;

/** The repository on 127.0.0.1, cross-origin isolated; PUT writes a file under bench/results/.
 * Requests naming another host are refused (a DNS-rebinding page cannot reach it). */
function serve() {
  const server = createServer(async (req, res) => {
    const headers = { 'cache-control': 'no-store', 'cross-origin-opener-policy': 'same-origin',
      'cross-origin-embedder-policy': 'require-corp', 'cross-origin-resource-policy': 'same-origin' };
    try {
      if (req.headers.host !== `127.0.0.1:${server.address().port}`) throw new Error('another host');
      const file = resolve(ROOT, '.' + decodeURIComponent(new URL(req.url, 'http://x').pathname));
      if (!file.startsWith(ROOT)) throw new Error('outside the repository');
      if (req.method === 'PUT') {
        if (!file.startsWith(WRITABLE)) throw new Error('not writable');
        const chunks = [];
        for await (const chunk of req) chunks.push(chunk);
        await mkdir(dirname(file), { recursive: true });
        await writeFile(file, Buffer.concat(chunks));
        res.writeHead(200, headers).end();
        return;
      }
      if (req.method === 'HEAD') { // node:fs's existsSync (bench/browser/node-fs.mjs): a file or a directory
        await stat(file);
        res.writeHead(200, headers).end();
        return;
      }
      const body = await readFile(file);
      res.writeHead(200, { ...headers, 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'content-length': body.length });
      res.end(body);
    } catch {
      // To HEAD, a missing file is an answer (204), not an error for the page's console.
      res.writeHead(req.method === 'HEAD' ? 204 : 404, headers).end();
    }
  });
  return new Promise((done) => server.listen(0, '127.0.0.1', () => done(server)));
}

const [script, ...args] = process.argv.slice(2);
if (!script) throw new RangeError('bench/browser/child.mjs: usage: node bench/browser/child.mjs <script under bench/> [args ...]');
const bin = chromiumBinary();
if (!bin.path) throw new Error(`bench/browser/child.mjs: ${bin.error ?? `${bin.absent}: install Debian's with \`${CHROMIUM_INSTALL}\``}`);
// The peak probes, which a page cannot compile (bench/browser/node-child-process.mjs): bench/run.mjs
// builds them once for all its children and says so.
if (!process.env.WASM_ATTENTION_BENCH_PEAK_BUILT) for (const relaxed of [false, true]) await buildPeak(relaxed);
const { chromium } = await import('playwright-core');
const server = await serve();
const browser = await chromium.launch({ executablePath: bin.path, headless: true,
  args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', '--disable-renderer-backgrounding', '--disable-background-timer-throttling'] });
let code = 1;
try {
  const page = await browser.newPage();
  let ended;
  await page.exposeFunction('__benchDone', (code) => ended(code));
  const done = new Promise((resolve, reject) => {
    ended = resolve;
    page.on('pageerror', (error) => reject(new Error(`uncaught in the page: ${error.message}`)));
    page.on('crash', () => reject(new Error('the page crashed')));
    setTimeout(() => reject(new Error(`no end after ${TIMEOUT_MS / 60_000} minutes`)), TIMEOUT_MS).unref();
  });
  page.on('response', (response) => {
    if (response.status() >= 400) process.stderr.write(`HTTP ${response.status()} for ${response.url()}\n`);
  });
  page.on('console', (message) => {
    if (message.type() === 'log' || message.type() === 'info') process.stdout.write(message.text() + '\n');
    else process.stderr.write(`[${message.type()}] ${message.text()}\n`);
  });
  const query = new URLSearchParams({ script, args: JSON.stringify(args) });
  await page.goto(`http://127.0.0.1:${server.address().port}/bench/browser/child.html?${query}`);
  code = await done;
} catch (error) {
  process.stderr.write(`bench/browser/child.mjs ${script}: ${error.message}\n`);
} finally {
  await browser.close();
  server.close();
}
process.exit(code);
