// Reading the PyTorch fixtures in Node (test/fixtures/make_fixtures.py writes them; how a case
// is run and checked lives in test/runtimes/fixture-cases.mjs, shared with the runtime smoke suite).
import { readFileSync } from 'node:fs';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export function loadFixture(name: string): Json[] {
  return JSON.parse(readFileSync(new URL(`../fixtures/${name}.json`, import.meta.url), 'utf8')).cases;
}
