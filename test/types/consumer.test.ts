// The published declarations as a user's strict TypeScript reads them: test/types/consumer.ts
// must type-check against dist/index.d.ts (op results narrowed by `out`, read-only id arrays, a
// DataView as options.wasm), so must README's ```ts examples, and a misuse must not.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const tsc = fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url));
const check = (file: string, extra: string[] = []): string => {
  try {
    execFileSync(process.execPath, [tsc, '--noEmit', '--strict', '--target', 'es2022', '--module', 'nodenext',
      '--moduleResolution', 'nodenext', '--skipLibCheck', 'false', '--types', 'node', ...extra, file], { encoding: 'utf8', stdio: 'pipe' });
    return '';
  } catch (error) {
    return String((error as { stdout?: string }).stdout ?? error);
  }
};

describe('published types', () => {
  it('README\'s uses type-check under --strict (nodenext)', () => {
    expect(check(fileURLToPath(new URL('consumer.ts', import.meta.url)))).toBe('');
  }, 60_000);

  it('and without the DOM lib (Node\'s types only), under exactOptionalPropertyTypes', () => {
    expect(check(fileURLToPath(new URL('consumer.ts', import.meta.url)), ['--lib', 'es2022', '--exactOptionalPropertyTypes'])).toBe('');
  }, 60_000);

  it('and with neither the DOM lib nor @types/node (lib ES2022 alone: no URL, no WebAssembly)', () => {
    const dir = mkdtempSync(join(fileURLToPath(new URL('.', import.meta.url)), '.tmp-'));
    try {
      writeFileSync(join(dir, 'bare.ts'), `import { createEngine } from '../../../dist/index.js';
const engine = await createEngine({ threads: 1 });
const out: Float32Array = await engine.gelu(new Float32Array(4), { approximate: 'tanh' });
void out;
await engine[Symbol.asyncDispose]();
`);
      // `types: []` is a tsconfig's to give (the command line cannot empty the list).
      writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
        compilerOptions: { strict: true, target: 'es2022', module: 'nodenext', moduleResolution: 'nodenext', skipLibCheck: false, lib: ['es2022'], types: [], noEmit: true },
        files: ['bare.ts'],
      }));
      let errors = '';
      try {
        execFileSync(process.execPath, [tsc, '-p', dir], { encoding: 'utf8', stdio: 'pipe' });
      } catch (error) {
        errors = String((error as { stdout?: string }).stdout ?? error);
      }
      expect(errors).toBe('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('README\'s ```ts examples type-check under --strict as written', () => {
    const readme = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');
    const blocks = [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
    expect(blocks.length).toBeGreaterThanOrEqual(2);
    const dir = mkdtempSync(join(fileURLToPath(new URL('.', import.meta.url)), '.tmp-'));
    try {
      const errors = blocks.map((code, i) => {
        const file = join(dir, `readme-${i}.ts`);
        writeFileSync(file, `${code.replaceAll("from 'wasm-attention'", "from '../../../dist/index.js'")}\nexport {};\n`);
        return check(file);
      });
      expect(errors.join('')).toBe('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('and a misuse does not: the result with `out` is not a Float32Array', () => {
    const dir = mkdtempSync(join(fileURLToPath(new URL('.', import.meta.url)), '.tmp-'));
    try {
      const file = join(dir, 'misuse.ts');
      writeFileSync(file, `import { createEngine } from '../../../dist/index.js';
const engine = await createEngine();
const t = engine.createTensor(4);
const wrong: Float32Array = await engine.gelu(new Float32Array(4), { out: t });
void wrong;
`);
      expect(check(file)).toMatch(/misuse\.ts\(4,7\): error TS\d+: Type 'EngineTensor' is missing/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
