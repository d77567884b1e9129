// npm run example:translate -- "twenty-first of march 2024"   →   2024-03-21
// Dates written out in words to ISO dates, by the small nn.Transformer trained in
// models/date-translator/ (train.py), running on the engine. --threads N picks the engine's threads.
// A sentence the model cannot take (too long, a character outside its vocabulary) is reported
// and the others still run; the exit status is then 1. A bad argument exits with status 2.
// The model is small and trained on dates only: text that is not a date still gets a date-shaped
// answer.
import { createEngine } from '../../dist/index.js';
import { createTranslator } from './translator.mjs';

const USAGE = 'usage: npm run example:translate -- [--threads N] [--] ["a date in words" ...]';
function fail(message) {
  process.stderr.write(`translate: ${message}\n${USAGE}\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
let threads = 1;
const sentences = [];
for (let i = 0, options = true; i < args.length; i++) {
  if (!options) {
    sentences.push(args[i]);
  } else if (args[i] === '--') {
    options = false; // the rest are sentences, even one that starts with --
  } else if (args[i] === '--threads') {
    const text = args[++i];
    threads = /^\d+$/.test(text ?? '') ? Number(text) : NaN;
    if (!(threads >= 1 && threads <= 256)) fail(`--threads: expected an integer in 1..256, got ${JSON.stringify(text)}`);
  } else if (args[i].startsWith('--')) {
    fail(`unknown option ${JSON.stringify(args[i])}`);
  } else {
    sentences.push(args[i]);
  }
}
if (sentences.length === 0) sentences.push('twenty-first of march 2024', 'the 3rd of july, 1999', 'december 25th 2000');

const engine = await createEngine({ threads });
try {
  const translator = await createTranslator(engine);
  for (const sentence of sentences) {
    const started = performance.now();
    try {
      const { text } = await translator.translate(sentence);
      console.log(`${sentence}  →  ${text}   (${(performance.now() - started).toFixed(1)} ms)`);
    } catch (error) {
      if (!(error instanceof RangeError || error instanceof TypeError)) throw error;
      console.error(`${JSON.stringify(sentence)}: ${error.message}`);
      process.exitCode = 1;
    }
  }
  await translator.dispose();
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
} finally {
  await engine.dispose();
}
