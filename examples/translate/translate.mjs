// npm run example:translate -- "twenty-first of march 2024"   →   2024-03-21
// Dates written out in words to ISO dates, by the small nn.Transformer trained in
// models/date-translator/ (train.py), running on the engine. --threads N picks the engine's threads.
import { createEngine } from '../../dist/index.js';
import { createTranslator } from './translator.mjs';

const args = process.argv.slice(2);
const at = args.indexOf('--threads');
const threads = at >= 0 ? Number(args.splice(at, 2)[1]) : 1;
const sentences = args.length > 0 ? args : ['twenty-first of march 2024', 'the 3rd of july, 1999', 'december 25th 2000'];

const engine = await createEngine({ threads });
try {
  const translator = await createTranslator(engine);
  for (const sentence of sentences) {
    const started = performance.now();
    const { text } = await translator.translate(sentence);
    console.log(`${sentence}  →  ${text}   (${(performance.now() - started).toFixed(1)} ms)`);
  }
  await translator.dispose();
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
} finally {
  await engine.dispose();
}
