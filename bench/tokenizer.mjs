// Tokenizers on one corpus, one process: wasm-attention's loadTokenizer, tokenizers.js (the
// tokenizer transformers.js runs, @huggingface/tokenizers) and HF's Rust tokenizers (the `tokenizers`
// npm binding, AutoTokenizer's fast tokenizers). For GPT-2's tokenizer.json and bert-base-uncased's:
//   - agreement: the share of texts whose ids equal the Rust tokenizer's (seeded random texts made
//     of every kind of character the components treat apart, and this repository's docs, line by line);
//   - speed: ms to encode the docs line by line (median of --rounds), and tokens per second.
// node bench/tokenizer.mjs [--rounds=5] [--texts=2000] [--seed=1]
import { readFileSync } from 'node:fs';
import { Tokenizer as TokenizersJs } from '@huggingface/tokenizers';
import { Tokenizer as Rust } from 'tokenizers';
import { loadTokenizer } from '../dist/index.js';
import { bertTokenizerJson, gpt2TokenizerJson, randomText, textRng as rng } from '../test/helpers/tokenizers.mjs';

const arg = (name, fallback) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
const ROUNDS = arg('rounds', 5);
const TEXTS = arg('texts', 2000);
const SEED = arg('seed', 1);

const docs = ['README.md', 'docs/DESIGN.md', 'docs/PERFORMANCE.md']
  .flatMap((f) => readFileSync(new URL(`../${f}`, import.meta.url), 'utf8').split('\n')).filter((l) => l.length > 0);
const next = rng(SEED);
const random = Array.from({ length: TEXTS }, () => randomText(next, 24));

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

const rows = [];
for (const [name, json] of [['GPT-2', gpt2TokenizerJson()], ['bert-base-uncased', bertTokenizerJson()]]) {
  const text = JSON.stringify(json);
  const rust = Rust.fromString(text);
  const ours = loadTokenizer(text);
  const js = new TokenizersJs(json, {});
  const encoders = {
    'wasm-attention': (t) => Array.from(ours.encode(t).inputIds),
    'tokenizers.js': (t) => js.encode(t).ids,
  };
  const reference = async (texts) => Promise.all(texts.map(async (t) => (await rust.encode(t)).getIds()));
  const refRandom = await reference(random);
  const refDocs = await reference(docs);
  const tokens = refDocs.reduce((n, ids) => n + ids.length, 0);
  for (const [peer, encode] of Object.entries(encoders)) {
    let agreeRandom = 0;
    let agreeDocs = 0;
    random.forEach((t, i) => { try { if (same(encode(t), refRandom[i])) agreeRandom++; } catch { /* a throw disagrees */ } });
    docs.forEach((t, i) => { try { if (same(encode(t), refDocs[i])) agreeDocs++; } catch { /* a throw disagrees */ } });
    const times = [];
    for (let r = 0; r < ROUNDS; r++) {
      const t0 = performance.now();
      for (const t of docs) encode(t);
      times.push(performance.now() - t0);
    }
    rows.push({ tokenizer: name, peer, agreeRandom: `${agreeRandom}/${random.length}`, agreeDocs: `${agreeDocs}/${docs.length}`, ms: median(times), tokens });
  }
  const times = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    for (const t of docs) await rust.encode(t);
    times.push(performance.now() - t0);
  }
  rows.push({ tokenizer: name, peer: 'HF Rust (napi, one call per line)', agreeRandom: '—', agreeDocs: '—', ms: median(times), tokens });
}

console.log(`docs: ${docs.length} lines; random texts: ${random.length} (seed ${SEED}); median of ${ROUNDS} rounds\n`);
console.log("| tokenizer.json | tokenizer | ids equal to HF Rust's: random texts | docs lines | encode the docs, ms | tokens/s |");
console.log('|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.tokenizer} | ${r.peer} | ${r.agreeRandom} | ${r.agreeDocs} | ${r.ms.toFixed(1)} | ${(r.tokens / (r.ms / 1000) / 1e6).toFixed(2)} M |`);
}
