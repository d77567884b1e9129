// Writes test/fixtures/tokenizer/cases.json for the runtime smoke suite: two small tokenizer.json
// files (GPT-2's byte-level BPE cut to its first 3000 merges, and bert-base-uncased's WordPiece cut
// to its first 8000 tokens, both still valid files) and seeded random texts with what HF's Rust
// tokenizers (the `tokenizers` devDependency) encode and decode them to. Every runtime must give
// the same: Deno, Bun (JavaScriptCore), workerd and Chromium have Unicode tables and regex engines
// of their own. node scripts/make-tokenizer-fixtures.mjs
import { writeFileSync } from 'node:fs';
import { Tokenizer } from 'tokenizers';
import { bertTokenizerJson, gpt2TokenizerJson, randomText, textRng as rng } from '../test/helpers/tokenizers.mjs';

function smallGpt2() {
  const json = gpt2TokenizerJson();
  const model = json.model;
  const merges = model.merges.slice(0, 3000);
  const keep = new Set(Object.keys(model.vocab).filter((t) => model.vocab[t] < 256));
  for (const m of merges) {
    const [a, b] = typeof m === 'string' ? m.split(' ') : m;
    keep.add(a).add(b).add(a + b);
  }
  keep.add('<|endoftext|>');
  const tokens = [...keep].sort((x, y) => model.vocab[x] - model.vocab[y]);
  const vocab = Object.fromEntries(tokens.map((t, id) => [t, id]));
  json.added_tokens = json.added_tokens.map((t) => ({ ...t, id: vocab[t.content] }));
  json.model = { ...model, vocab, merges };
  return json;
}

function smallBert() {
  const json = bertTokenizerJson();
  json.model.vocab = Object.fromEntries(Object.entries(json.model.vocab).filter(([, id]) => id < 8000));
  return json;
}

const tokenizers = { gpt2: smallGpt2(), bert: smallBert() };
const next = rng(0x5a7e);
const cases = [];
for (const [name, json] of Object.entries(tokenizers)) {
  const rust = Tokenizer.fromString(JSON.stringify(json));
  for (let i = 0; i < 60; i++) {
    const text = randomText(next, 20);
    const pair = i % 3 === 0 ? randomText(next, 10) : undefined;
    const e = await rust.encode(text, pair ?? null);
    const units = (s) => { const m = [0]; for (const ch of s) m.push(m[m.length - 1] + ch.length); return m; };
    const maps = [units(text), units(pair ?? '')];
    const seq = e.getSequenceIds();
    cases.push({
      tokenizer: name, text, ...(pair === undefined ? {} : { pair }),
      ids: e.getIds(), typeIds: e.getTypeIds(),
      offsets: e.getOffsets().map(([a, b], k) => [maps[seq[k] === 1 ? 1 : 0][a], maps[seq[k] === 1 ? 1 : 0][b]]),
      decoded: await rust.decode(e.getIds(), true),
    });
  }
}
const out = new URL('../test/fixtures/tokenizer/cases.json', import.meta.url);
writeFileSync(out, `${JSON.stringify({ source: 'scripts/make-tokenizer-fixtures.mjs; HF tokenizers (Rust) 0.23.2', tokenizers, cases })}\n`);
console.log(`${cases.length} cases → ${out.pathname}`);
