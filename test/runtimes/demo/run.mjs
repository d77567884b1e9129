// The demo page in headless Chromium (Debian's, through playwright-core): served with COOP/COEP,
// it must render 4 per-head heatmaps, the head average and the positional encoding (non-blank:
// cells of many colours), engage 2 threads, toggle the causal mask (upper triangle goes dark) and
// fill the timing panel. `--screenshot FILE` also saves a picture of the page.
// Prints `N passed, M failed` last; exits 1 on any failure, a missing browser included.
import { chromium } from 'playwright-core';
import { serve } from '../../../examples/demo/server.mjs';
import { CHROMIUM, CHROMIUM_INSTALL, chromiumBinary } from '../../../scripts/runtime-binaries.mjs';

const at = process.argv.indexOf('--screenshot');
const screenshot = at >= 0 ? process.argv[at + 1] : undefined;
let passed = 0, failed = 0;
const check = (ok, what) => {
  console.log(`${ok ? 'ok' : 'FAIL'} demo: ${what}`);
  if (ok) passed++; else failed++;
};

const bin = chromiumBinary();
if (!bin.path) {
  console.log(`FAIL - ${bin.error ?? `${bin.absent}: install Debian's with \`${CHROMIUM_INSTALL}\``}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}

const { url, close } = await serve({ port: 0 });
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(`${url}examples/demo/`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
  const maps = () => page.$$eval('svg.heatmap', (svgs) => svgs.map((svg) => {
    const fills = [...svg.querySelectorAll('rect')].map((r) => r.getAttribute('fill'));
    return { cells: fills.length, colours: new Set(fills).size, title: svg.querySelector('text')?.textContent };
  }));
  const before = await maps();
  check(before.length === 6, `6 heatmaps (4 heads, average, positional encoding), got ${before.length}`);
  check(before.every((m) => m.cells >= 100 && m.colours >= 5), `every heatmap has cells of many colours: ${JSON.stringify(before)}`);
  const status = await page.textContent('#status');
  check(/2 thread\(s\)/.test(status), `cross-origin isolated page computes on 2 threads: "${status}"`);
  check(await page.evaluate(() => crossOriginIsolated), 'the page is cross-origin isolated');

  // Causal: every cell above the diagonal of the average map is zero (darkest colour).
  await page.check('#causal');
  await page.waitForFunction(() => document.querySelector('#status').textContent !== '' && document.querySelector('#causal').checked);
  await page.waitForTimeout(300);
  const upper = await page.$eval('#average svg.heatmap', (svg) => {
    const rects = [...svg.querySelectorAll('rect')];
    const n = Math.round(Math.sqrt(rects.length));
    const values = rects.map((r) => Number(r.querySelector('title').textContent));
    let bad = 0;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) if (values[i * n + j] !== 0) bad++;
    return { n, bad };
  });
  check(upper.n > 5 && upper.bad === 0, `causal toggle zeroes the upper triangle (${JSON.stringify(upper)})`);
  await page.uncheck('#causal');

  await page.waitForSelector('body[data-timing="done"]', { timeout: 120_000 });
  const rows = await page.$$eval('#timing tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
  check(rows.length >= 3 && rows.every((r) => Number(r[2]) > 0), `timing panel: ${JSON.stringify(rows)}`);
  check(errors.length === 0, `no page errors ${JSON.stringify(errors)}`);
  if (screenshot) {
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: screenshot, fullPage: true });
    console.log(`# screenshot: ${screenshot}`);
  }
} catch (error) {
  check(false, `page run threw: ${error?.stack ?? error}`);
} finally {
  await browser.close();
  await close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
