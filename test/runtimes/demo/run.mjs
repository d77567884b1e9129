// The demo page in headless Chromium (Debian's, through playwright-core): served with COOP/COEP,
// the shipped char-GPT must stream the text Node's engine generates (greedy on load, on 1 then 2
// threads with both rates shown; seeded sampling after typing a prompt; a prompt character outside
// the vocabulary is refused, naming it), and draw the attention canvas of the real model (nothing
// above the diagonal, each row's brightest cell where Node's attention peaks, redrawn for another
// layer and head). The sentence section must render 4 per-head heatmaps, the head average and the
// positional encoding (non-blank: cells of many colours), engage 2 threads, toggle the causal mask
// (upper triangle goes dark) and fill the timing panel. `--screenshot FILE` also saves a picture
// of the top of the page (the generation and its attention).
// Prints `N passed, M failed` last; exits 1 on any failure, a missing browser included.
import { readFile } from 'node:fs/promises';
import { chromium } from 'playwright-core';
import { createEngine } from '../../../dist/index.js';
import { CHAR_GPT, DEFAULTS, generateOptions, loadCharGpt } from '../../../examples/demo/char-gpt.js';
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

// The reference: the same model on Node's engine.
const config = JSON.parse(await readFile(new URL('config.json', CHAR_GPT), 'utf8'));
const nodeEngine = await createEngine({ threads: 1 });
const gpt = loadCharGpt(nodeEngine, config, await readFile(new URL('model.safetensors', CHAR_GPT)));
const nodeText = async (prompt, controls) => {
  const ids = [];
  for await (const next of gpt.model.generate(gpt.vocab.encode(prompt), generateOptions(controls))) ids.push(next[0]);
  return gpt.vocab.decode(ids);
};

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

  // Generation: the run on load is greedy with the defaults, on 1 and then 2 threads.
  await page.waitForSelector('body[data-generated="1"]', { timeout: 120_000 });
  const want = DEFAULTS.prompt + await nodeText(DEFAULTS.prompt, DEFAULTS);
  const text = await page.textContent('#text');
  check(text === want, `greedy text on load equals Node's engine: ${JSON.stringify(text)}`);
  const rates = await page.$$eval('#rates tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
  check(rates.length === 2 && rates[0][0] === '1' && rates[1][0] === '2' &&
    rates.every((r) => r[1] === String(DEFAULTS.maxNewTokens) && Number(r[2]) > 0 && Number(r[3]) > 0),
  `tokens/s on 1 and 2 threads: ${JSON.stringify(rates)}`);
  check((await page.textContent('#gen-status')) === '', 'no status message (the threads gave the same tokens)');

  // The attention canvas: cell colours read back from its pixels.
  const cells = () => page.$eval('#attention', (canvas) => {
    const { rows, left, top, cell } = canvas.dataset;
    const n = Number(rows), c = Number(cell);
    const px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    const at = (i, j) => {
      const o = ((Number(top) + i * c + (c >> 1)) * canvas.width + Number(left) + j * c + (c >> 1)) * 4;
      return `${px[o]},${px[o + 1]},${px[o + 2]}`;
    };
    return { n, layer: canvas.dataset.layer, head: canvas.dataset.head,
      grid: Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => at(i, j))) };
  });
  const ZERO = '68,1,84', TOP = '253,231,37'; // the ramp's ends: weight 0, and a row's largest weight
  const map0 = await cells();
  const ids = gpt.vocab.encode(want);
  const { attentions } = await gpt.model.forward(ids, { batch: 1, seq: ids.length, outputAttentions: true });
  const L = ids.length;
  let above = 0, peaks = 0, compared = 0;
  const colours = new Set();
  for (let i = 0; i < map0.n; i++) {
    for (let j = 0; j < map0.n; j++) if (j > i) above += map0.grid[i][j] !== ZERO; else colours.add(map0.grid[i][j]);
    const row = attentions[0].subarray(i * L, (i + 1) * L); // layer 0, head 0
    const order = [...row.keys()].sort((a, b) => row[b] - row[a]);
    if (i > 0 && row[order[0]] - row[order[1]] < 1e-3) continue; // a near tie: either cell may be the peak
    compared++;
    peaks += map0.grid[i][order[0]] === TOP;
  }
  check(map0.n === L && map0.layer === '0' && map0.head === '0', `canvas: layer 0, head 0 over the ${L} characters (${map0.n} rows)`);
  check(above === 0 && colours.size >= 5, `canvas: nothing above the diagonal (${above}), ${colours.size} colours below`);
  check(compared > L / 2 && peaks === compared, `each row's brightest cell is where Node's attention peaks: ${peaks} of ${compared}`);
  await page.selectOption('#layer', String(config.n_layer - 1));
  await page.selectOption('#head', 'mean');
  const map1 = await cells();
  const changed = map1.grid.flat().filter((c, k) => c !== map0.grid.flat()[k]).length;
  check(map1.layer === String(config.n_layer - 1) && map1.head === 'mean' && changed > L,
    `another layer and the mean over heads redraw the canvas (${changed} cells changed)`);

  await page.waitForSelector('body[data-timing="done"]', { timeout: 120_000 });
  const rows = await page.$$eval('#timing tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
  check(rows.length >= 3 && rows.every((r) => Number(r[2]) > 0), `timing panel: ${JSON.stringify(rows)}`);

  // A typed prompt, seeded sampling, 2 threads only: after the timing panel, which holds the
  // 2-thread engine for a while on a busy machine.
  const controls = { prompt: 'Blessed are', maxNewTokens: 30, temperature: 0.9, topK: 20, topP: 0.95, seed: 5 };
  for (const [id, key] of [['prompt', 'prompt'], ['max-tokens', 'maxNewTokens'], ['temperature', 'temperature'],
    ['top-k', 'topK'], ['top-p', 'topP'], ['seed', 'seed']]) await page.fill(`#${id}`, String(controls[key]));
  await page.selectOption('#threads', '2');
  await page.click('#generate-button');
  await page.waitForSelector('body[data-generated="2"]', { timeout: 60_000 });
  const sampled = await page.textContent('#text');
  const sampledWant = controls.prompt + await nodeText(controls.prompt, controls);
  check(sampled === sampledWant, `seeded sampling on 2 threads equals Node's: ${JSON.stringify(sampled)}`);
  const rates2 = await page.$$eval('#rates tbody tr', (trs) => trs.map((tr) => tr.cells[0].textContent));
  check(rates2.join() === '2', `one run, on 2 threads: ${JSON.stringify(rates2)}`);
  const map2 = await cells();
  check(map2.n === controls.prompt.length + controls.maxNewTokens, `the canvas follows the new text (${map2.n} rows)`);

  await page.fill('#prompt', 'Caf\u00e9');
  await page.click('#generate-button');
  await page.waitForFunction(() => document.querySelector('#gen-status').textContent !== '');
  const refused = await page.textContent('#gen-status');
  check(/"\u00e9" \(U\+00E9\) is not in the model's vocabulary/.test(refused) &&
    (await page.getAttribute('body', 'data-generated')) === '2', `a prompt outside the vocabulary is refused: "${refused}"`);

  // A bad option is said before anything is cleared: the last text stays.
  await page.fill('#prompt', controls.prompt);
  await page.fill('#max-tokens', '0');
  await page.click('#generate-button');
  await page.waitForFunction(() => /maxNewTokens/.test(document.querySelector('#gen-status').textContent));
  check((await page.textContent('#text')) === sampled && (await page.getAttribute('body', 'data-generated')) === '2',
    `a bad option (0 tokens) leaves the last text: "${await page.textContent('#gen-status')}"`);
  // Blank fields are their defaults: a blank top-p is off (1), not 0 (which keeps only the most
  // likely token, i.e. greedy); a blank token count is 100.
  await page.fill('#max-tokens', '');
  await page.fill('#top-p', '');
  await page.click('#generate-button');
  await page.waitForSelector('body[data-generated="3"]', { timeout: 60_000 });
  const blank = await page.textContent('#text');
  const blankWant = controls.prompt + await nodeText(controls.prompt, { ...controls, maxNewTokens: DEFAULTS.maxNewTokens, topP: 1 });
  check(blank === blankWant && blank !== controls.prompt + await nodeText(controls.prompt, { ...controls, maxNewTokens: DEFAULTS.maxNewTokens, topP: 0 }),
    `blank top-p and tokens are off and 100: ${JSON.stringify(blank)}`);
  check((await page.inputValue('#max-tokens')) === '', 'the token field is not rewritten');
  // The sentence panel says what it did with an empty or a long sentence.
  await page.fill('#sentence', '   ');
  await page.click('#form button');
  await page.waitForFunction(() => /no words/.test(document.querySelector('#status').textContent));
  await page.fill('#sentence', Array.from({ length: 60 }, (_, i) => `w${i}`).join(' '));
  await page.click('#form button');
  await page.waitForFunction(() => /the first 48 of 60/.test(document.querySelector('#status').textContent));
  check(true, 'the sentence panel names an empty sentence and the cut of a long one');

  check(errors.length === 0, `no page errors ${JSON.stringify(errors)}`);
  if (screenshot) {
    // The generation on load again (greedy, 1 then 2 threads), with a middle layer's head 1.
    for (const [id, key] of [['prompt', 'prompt'], ['max-tokens', 'maxNewTokens'], ['temperature', 'temperature'],
      ['top-k', 'topK'], ['top-p', 'topP'], ['seed', 'seed']]) await page.fill(`#${id}`, String(DEFAULTS[key]));
    await page.selectOption('#threads', 'both');
    await page.click('#generate-button');
    await page.waitForSelector('body[data-generated="4"]', { timeout: 60_000 });
    await page.selectOption('#layer', String(config.n_layer >> 1));
    await page.selectOption('#head', '1');
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: screenshot, clip: { x: 0, y: 0, width: 1280, height: await page.$eval('#attention',
      (c) => Math.ceil(c.getBoundingClientRect().bottom + 16)) } });
    console.log(`# screenshot: ${screenshot}`);
  }

  // A file that fails to load while the page starts (as during a rebuild) is said on the page,
  // and a directory URL without its slash is redirected to the page.
  const broken = await browser.newPage();
  await broken.route('**/model.safetensors', (route) => route.fulfill({ status: 404, body: 'not found' }));
  await broken.goto(`${url}examples/demo`);
  await broken.waitForFunction(() => /could not start/.test(document.querySelector('#gen-status').textContent), null, { timeout: 60_000 });
  const said = await broken.textContent('#gen-status');
  check(/model\.safetensors: HTTP 404/.test(said) && broken.url() === `${url}examples/demo/`,
    `a failed start is said on the page: "${said}" (${broken.url()})`);
  await broken.close();
} catch (error) {
  check(false, `page run threw: ${error?.stack ?? error}`);
} finally {
  await browser.close();
  await close();
  await gpt.model.dispose();
  await nodeEngine.dispose();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
