// `npx wasm-attention quantize in out` (bin/wasm-attention.mjs, run from dist/ as a user runs
// it): on a generated GPT-2-like file, the output loads, its weights are the engine's int8
// quantization of the input, and every printed number is the one recomputed from the two
// files; bad arguments exit 2 with a message.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync, closeSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync,
  symlinkSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  loadSafetensors, quantizeInt8, readSafetensors, safetensorsQuantized, writeSafetensors, type SafetensorsInput,
} from '../../dist/index.js';
import { randomF32 } from '../helpers/random.js';

const BIN = new URL('../../bin/wasm-attention.mjs', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'wasm-attention-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const bytesOf = (a: ArrayBufferView): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** A two-layer GPT-2-shaped state dict (Conv1D [in, out] weights, tied wte, mask buffers). */
function gpt2Like(): Record<string, SafetensorsInput> {
  const E = 24, V = 40, P = 16;
  const t: Record<string, SafetensorsInput> = {};
  let seed = 900;
  const put = (key: string, shape: number[], scale: number): void => {
    t[key] = { dtype: 'F32', shape, data: randomF32(shape.reduce((a, b) => a * b, 1), seed++, scale) };
  };
  put('wte.weight', [V, E], 0.5);
  put('wpe.weight', [P, E], 0.1);
  for (let l = 0; l < 2; l++) {
    const p = `h.${l}.`;
    put(`${p}ln_1.weight`, [E], 1);
    put(`${p}ln_1.bias`, [E], 0.1);
    put(`${p}attn.bias`, [1, 1, P, P], 1);
    put(`${p}attn.c_attn.weight`, [E, 3 * E], 0.2);
    put(`${p}attn.c_attn.bias`, [3 * E], 0.1);
    put(`${p}attn.c_proj.weight`, [E, E], 0.2);
    put(`${p}attn.c_proj.bias`, [E], 0.1);
    put(`${p}ln_2.weight`, [E], 1);
    put(`${p}ln_2.bias`, [E], 0.1);
    put(`${p}mlp.c_fc.weight`, [E, 4 * E], 0.2);
    put(`${p}mlp.c_fc.bias`, [4 * E], 0.1);
    put(`${p}mlp.c_proj.weight`, [4 * E, E], 0.1);
    put(`${p}mlp.c_proj.bias`, [E], 0.1);
  }
  put('ln_f.weight', [E], 1);
  put('ln_f.bias', [E], 0.1);
  return t;
}

describe('wasm-attention quantize', () => {
  it('writes a file that loads as the engine quantization, and prints the sizes and errors recomputed', () => {
    const inPath = join(dir, 'in.safetensors'), outPath = join(dir, 'out.safetensors');
    writeFileSync(inPath, writeSafetensors(gpt2Like()));
    const r = cli('quantize', inPath, outPath, '--drop', '\\.attn\\.bias$');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);

    const original = readSafetensors(new Uint8Array(readFileSync(inPath))).tensors;
    const w = loadSafetensors(new Uint8Array(readFileSync(outPath)));
    const q = w[safetensorsQuantized];
    const conv = ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'];
    expect(Object.keys(q).sort()).toEqual([0, 1].flatMap((l) => conv.map((c) => `h.${l}.${c}.weight`)).sort());
    expect(Object.keys(w).some((k) => /\.attn\.bias$/.test(k))).toBe(false);
    expect(Object.keys(w).length).toBe(Object.keys(original).length - 2);
    let errorSq = 0, normSq = 0, worst = { name: '', error: -1 };
    for (const [name, t] of Object.entries(q)) {
      expect(t.axis, name).toBe(1); // Conv1D: channels are dim 1
      const [rows, cols] = t.shape;
      const want = quantizeInt8(original[name]!.data, rows, cols, 1);
      expect(bytesOf(t.codes).equals(bytesOf(want.codes)), name).toBe(true);
      let e = 0, n = 0;
      w[name]!.forEach((v, i) => {
        const x = original[name]!.data[i]!;
        e += (x - v) ** 2;
        n += x * x;
      });
      errorSq += e;
      normSq += n;
      if (Math.sqrt(e / n) > worst.error) worst = { name, error: Math.sqrt(e / n) };
    }
    for (const k of ['wte.weight', 'wpe.weight', 'ln_f.weight', 'h.0.attn.c_attn.bias']) {
      expect(bytesOf(w[k]!).equals(bytesOf(original[k]!.data)), k).toBe(true);
    }

    const inBytes = statSync(inPath).size, outBytes = statSync(outPath).size;
    const pct = (x: number): string => `${(100 * x).toPrecision(4)}%`;
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^input: +${inPath}  ${inBytes.toLocaleString('en-US')} bytes`));
    expect(lines[1]).toMatch(new RegExp(`^output: ${outPath}  ${outBytes.toLocaleString('en-US')} bytes`));
    expect(lines[2]).toBe(`ratio:  ${(outBytes / inBytes).toFixed(4)} (${(inBytes / outBytes).toFixed(2)}x smaller)`);
    expect(lines[3]).toBe(`int8:   8 tensors quantized per output channel, ${Object.keys(w).length - 8} kept as they were, 2 dropped`);
    expect(lines[4]).toBe(`error:  relative RMS ${pct(Math.sqrt(errorSq / normSq))} overall, worst ${pct(worst.error)} (${worst.name})`);
    expect(outBytes).toBeLessThan(inBytes / 2);
  });

  it('bad arguments exit 2 with a message', () => {
    expect(cli().status).toBe(2);
    const missing = cli('quantize', join(dir, 'none.safetensors'), join(dir, 'x.safetensors'));
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/cannot read .*none\.safetensors/);
    const one = cli('quantize', join(dir, 'in.safetensors'));
    expect(one.status).toBe(2);
    expect(one.stderr).toMatch(/quantize needs an input and an output file/);
    expect(cli('quantize', 'a', 'b', '--include', '(').stderr).toMatch(/--include "\(":/);
    expect(cli('quantize', 'a', 'b', '--frobnicate').stderr).toMatch(/unknown option --frobnicate/);
    // a single-dash option is named (it was "unexpected argument" for the file after it)
    const dash = cli('quantize', '-x', 'a', 'b');
    expect(dash.status).toBe(2);
    expect(dash.stderr).toMatch(/unknown option -x \(a file whose name starts with -: write \.\/-x, or put it after --\)/);
    // after --, a file whose name starts with - is a file
    const r = spawnSync(process.execPath, [BIN, 'quantize', '--', join(dir, 'in.safetensors'), '-dashed.safetensors'], { encoding: 'utf8', cwd: dir });
    expect(r.status, r.stderr).toBe(0);
    expect(loadSafetensors(new Uint8Array(readFileSync(join(dir, '-dashed.safetensors'))))).toBeTypeOf('object');
    const bad = join(dir, 'bad.safetensors');
    writeFileSync(bad, new Uint8Array(3));
    expect(cli('quantize', bad, join(dir, 'y.safetensors')).stderr).toMatch(/quantizeSafetensors: file is 3 bytes/);
    expect(cli('--help').stdout).toMatch(/^usage: wasm-attention quantize/);
    const unwritable = cli('quantize', join(dir, 'in.safetensors'), join(dir, 'no-such-dir', 'out.safetensors'));
    expect(unwritable.status).toBe(2);
    expect(unwritable.stderr).toMatch(/cannot write .*no-such-dir.*ENOENT/);
    expect(cli('quantize', '--help').stdout).toMatch(/^usage: wasm-attention quantize/);
    // an output path that cannot exist (found by a review: these were a stack trace and exit 1)
    for (const [out, code] of [[join(dir, 'in.safetensors', 'out.safetensors'), 'ENOTDIR'], [join(dir, 'n'.repeat(300)), 'ENAMETOOLONG']]) {
      const r = cli('quantize', join(dir, 'in.safetensors'), out);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`cannot write .*${code}`));
      expect(r.stderr).not.toMatch(/ at /); // a message, not a stack trace
    }
    const three = cli('quantize', 'a', 'b', 'c');
    expect(three.status).toBe(2);
    expect(three.stderr).toMatch(/unexpected argument "c": quantize takes an input and an output file/);
  });

  it('an output name as long as a name can be (255 bytes) is written: the temporary file has a short name of its own', () => {
    const long = join(dir, `${'b'.repeat(255 - '.safetensors'.length)}.safetensors`);
    writeFileSync(long, new Uint8Array(0)); // an existing regular file: written through a temporary one
    const r = cli('quantize', join(dir, 'in.safetensors'), long);
    expect(r.status, r.stderr).toBe(0);
    expect(loadSafetensors(new Uint8Array(readFileSync(long)))).toBeTypeOf('object');
    expect(readdirSync(dir).filter((name) => name.endsWith('.tmp'))).toEqual([]);
    rmSync(long);
  });

  it('a failed write leaves neither a partial output nor its temporary file', () => {
    const target = join(dir, 'occupied');
    mkdirSync(join(target, 'inside'), { recursive: true }); // a non-empty directory: the rename fails
    const r = cli('quantize', join(dir, 'in.safetensors'), target);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/cannot write .*occupied/);
    expect(readdirSync(dir).filter((name) => name.endsWith('.tmp'))).toEqual([]);
    expect(readdirSync(target)).toEqual(['inside']);
  });

  it('an output larger than its input says so; --drop of an I8 weight takes its scales too', () => {
    const tiny = join(dir, 'tiny.safetensors'), tinyOut = join(dir, 'tiny-int8.safetensors');
    writeFileSync(tiny, writeSafetensors({ 'x.weight': { dtype: 'F32', shape: [1, 1], data: Float32Array.of(0.5) } }));
    const r = cli('quantize', tiny, tinyOut);
    expect(r.status).toBe(0);
    const inBytes = statSync(tiny).size, outBytes = statSync(tinyOut).size;
    expect(outBytes).toBeGreaterThan(inBytes);
    expect(r.stdout).toContain(`ratio:  ${(outBytes / inBytes).toFixed(4)} (${(outBytes / inBytes).toFixed(2)}x larger)`);
    const dropped = join(dir, 'tiny-dropped.safetensors');
    expect(cli('quantize', tinyOut, dropped, '--drop', '^x\\.weight$').status).toBe(0);
    expect(Object.keys(readSafetensors(readFileSync(dropped)).tensors)).toEqual([]);
    const orphan = cli('quantize', tinyOut, dropped, '--drop', '_scale$');
    expect(orphan.status).toBe(2);
    expect(orphan.stderr).toMatch(/options\.drop leaves out "x\.weight_scale" but keeps the I8 tensor "x\.weight"/);
    // An int8 file quantized again passes through: the same bytes, and the ratio says so.
    const again = cli('quantize', tinyOut, join(dir, 'tiny-again.safetensors'));
    expect(again.status).toBe(0);
    expect(again.stdout).toContain('ratio:  1.0000 (the same size)');
    expect(again.stdout).toContain('note:   nothing quantized: the input is already int8 (1 I8 tensor); the output is a copy of the input');
    expect(readFileSync(join(dir, 'tiny-again.safetensors')).equals(readFileSync(tinyOut))).toBe(true);
    const none = cli('quantize', tiny, join(dir, 'tiny-none.safetensors'), '--include', '^nothing$');
    expect(none.status).toBe(0);
    expect(none.stdout).toContain('note:   nothing quantized: no float 2-D tensor matched --include; the output is a copy of the input');
    // byte for byte: no "quantization" metadata entry added to an f32 file (it was, before)
    expect(readFileSync(join(dir, 'tiny-none.safetensors')).equals(readFileSync(tiny))).toBe(true);
    expect(none.stdout).toContain('ratio:  1.0000 (the same size)');
    // an int8 input with a choice of the user's that matches nothing: the choice is named, not the int8
    const noneOfInt8 = cli('quantize', tinyOut, join(dir, 'tiny-none2.safetensors'), '--include', '^nothing$');
    expect(noneOfInt8.stdout).toContain('note:   nothing quantized: no float 2-D tensor matched --include; the output is a copy of the input');
    // with tensors dropped (the I8 weight takes its scale), the output is no copy
    const lessOne = cli('quantize', tinyOut, join(dir, 'tiny-less.safetensors'), '--drop', '^x\\.weight$');
    expect(lessOne.stdout).toContain('note:   nothing quantized: the input is already int8 (1 I8 tensor); the output is the input less the 2 dropped tensors');
    // an F32 file with nothing the default takes (a 1-D tensor)
    const vector = join(dir, 'vector.safetensors');
    writeFileSync(vector, writeSafetensors({ 'x.bias': { dtype: 'F32', shape: [3], data: Float32Array.of(1, 2, 3) } }));
    expect(cli('quantize', vector, join(dir, 'vector-out.safetensors')).stdout)
      .toContain('note:   nothing quantized: no tensor matched the default choice (see --help); the output is a copy of the input');
    expect(readFileSync(join(dir, 'vector-out.safetensors')).equals(readFileSync(vector))).toBe(true);
  });

  it('- is stdin and stdout; the output may be the input; --embeddings with --include is refused', () => {
    const inPath = join(dir, 'in.safetensors');
    const piped = spawnSync(process.execPath, [BIN, 'quantize', '-', '-'], { input: readFileSync(inPath) });
    expect(piped.status, String(piped.stderr)).toBe(0);
    expect(String(piped.stderr)).toMatch(/^input: +stdin  [\s\S]*\noutput: stdout  /);
    const empty = spawnSync(process.execPath, [BIN, 'quantize', '-', join(dir, 'e.safetensors')], { input: Buffer.alloc(0), encoding: 'utf8' });
    expect(empty.status).toBe(2);
    expect(empty.stderr).toMatch(/^wasm-attention: stdin: quantizeSafetensors: file is 0 bytes/);
    const viaFiles = join(dir, 'via-files.safetensors');
    expect(cli('quantize', inPath, viaFiles).status).toBe(0);
    expect(Buffer.compare(piped.stdout, readFileSync(viaFiles))).toBe(0);
    const copy = join(dir, 'in-place.safetensors');
    writeFileSync(copy, readFileSync(inPath));
    expect(cli('quantize', copy, copy).status).toBe(0);
    expect(Buffer.compare(readFileSync(copy), readFileSync(viaFiles))).toBe(0);
    const both = cli('quantize', inPath, join(dir, 'z.safetensors'), '--embeddings', '--include', 'weight');
    expect(both.status).toBe(2);
    expect(both.stderr).toMatch(/--embeddings chooses among the default tensors, and --include replaces that choice/);
  });

  it('writes through a symbolic link (its target replaced, the link kept, the mode kept) and into a pipe', () => {
    const inPath = join(dir, 'in.safetensors');
    const real = join(dir, 'real-target.safetensors'), link = join(dir, 'link.safetensors');
    writeFileSync(real, 'old');
    chmodSync(real, 0o640);
    symlinkSync(real, link);
    expect(cli('quantize', inPath, link).status).toBe(0);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(statSync(real).mode & 0o777).toBe(0o640);
    const expected = readFileSync(real);
    expect(Object.keys(loadSafetensors(expected)).length).toBeGreaterThan(0);
    // A dangling link is written through: its target is created.
    const missing = join(dir, 'created-by-link.safetensors'), dangling = join(dir, 'dangling.safetensors');
    symlinkSync(missing, dangling);
    expect(cli('quantize', inPath, dangling).status).toBe(0);
    expect(lstatSync(dangling).isSymbolicLink()).toBe(true);
    expect(readFileSync(missing).equals(expected)).toBe(true);
    // A pipe: written to directly, the reader gets the file (it was renamed over before).
    const fifo = join(dir, 'pipe');
    execFileSync('mkfifo', [fifo]);
    const out = spawnSync('sh', ['-c', `cat "${fifo}" > "${join(dir, 'from-pipe')}" & "${process.execPath}" "${BIN}" quantize "${inPath}" "${fifo}" > /dev/null; wait`]);
    expect(out.status).toBe(0);
    expect(statSync(fifo).isFIFO()).toBe(true);
    expect(readFileSync(join(dir, 'from-pipe')).equals(expected)).toBe(true);
    // The process's own stdout: the bytes alone go there (the summary to stderr), piped,
    // redirected or appended to.
    const toStdout = spawnSync(process.execPath, [BIN, 'quantize', inPath, '/dev/stdout']);
    expect(toStdout.status).toBe(0);
    expect(Buffer.from(toStdout.stdout).equals(expected)).toBe(true);
    expect(String(toStdout.stderr)).toMatch(/^input: .*\noutput: \/dev\/stdout/);
    const appended = join(dir, 'appended');
    writeFileSync(appended, 'HEAD');
    const append = spawnSync('sh', ['-c', `"${process.execPath}" "${BIN}" quantize "${inPath}" /dev/stdout >> "${appended}"`]);
    expect(append.status).toBe(0);
    expect(readFileSync(appended).equals(Buffer.concat([Buffer.from('HEAD'), expected]))).toBe(true);
  });

  it('a weight at f32\'s largest magnitude quantizes to a file that loads (127·scale stays finite)', () => {
    const big = join(dir, 'fmax.safetensors'), bigOut = join(dir, 'fmax-int8.safetensors');
    const w = Float32Array.of(3.4028234663852886e38, 1, -2, 0.5, -3.4028234663852886e38, 7);
    writeFileSync(big, writeSafetensors({ 'l.weight': { dtype: 'F32', shape: [2, 3], data: w } }));
    const r = cli('quantize', big, bigOut);
    expect(r.status).toBe(0);
    expect(r.stdout).not.toMatch(/Infinity|NaN/);
    const loaded = loadSafetensors(readFileSync(bigOut));
    const { codes, scales } = quantizeInt8(w, 2, 3, 0);
    expect(Math.fround(127 * scales[0]!)).toBeLessThan(Infinity);
    expect([...codes]).toEqual([127, 0, 0, 0, -127, 0]);
    expect(Array.from(loaded['l.weight']!).every(Number.isFinite)).toBe(true);
  });
});

// Node's readFileSync / writeFileSync stop at 2 GiB, GPT-2 large in f32 is 3.1 GB. The file is
// sparse (a header, then a hole of zeros), but the CLI reads and writes all of its bytes:
// about 7 GB of memory and 2.2 GB of disk, so only with WASM_ATTENTION_LARGE_FILES=1
// (`npm run test:large-files`).
describe.skipIf(!process.env.WASM_ATTENTION_LARGE_FILES)('quantize, files over 2 GiB', () => {
  it('reads and writes a file over 2 GiB: a 2.2 GB tensor kept, a small one quantized', () => {
    const rows = 2, cols = 2 ** 28 + 2 ** 24; // 2.28 GB of F32
    const small = randomF32(8 * 16, 77);
    const header = JSON.stringify({
      'h.0.mlp.c_fc.weight': { dtype: 'F32', shape: [8, 16], data_offsets: [0, small.byteLength] },
      'big.weight': { dtype: 'F32', shape: [rows, cols], data_offsets: [small.byteLength, small.byteLength + rows * cols * 4] },
    });
    const head = Buffer.alloc(8 + header.length);
    head.writeBigUInt64LE(BigInt(header.length));
    head.write(header, 8, 'latin1');
    const inPath = join(dir, 'large.safetensors'), outPath = join(dir, 'large-int8.safetensors');
    writeFileSync(inPath, Buffer.concat([head, bytesOf(small)]));
    const total = head.length + small.byteLength + rows * cols * 4;
    execFileSync('truncate', ['-s', String(total), inPath]); // the hole: zeros
    const r = cli('quantize', inPath, outPath, '--exclude', '^big\\.');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    // The output: a header naming the big tensor as it was and the small one quantized, whose
    // last data offset ends at the file's end; the small tensor's codes and scales are those
    // the same file without the big tensor gives; the big one's last bytes are zeros.
    const size = statSync(outPath).size;
    expect(size).toBeGreaterThan(2 ** 31);
    const fd = openSync(outPath, 'r');
    try {
      const read = (at: number, n: number): Buffer => {
        const b = Buffer.alloc(n);
        expect(readSync(fd, b, 0, n, at)).toBe(n);
        return b;
      };
      const n = Number(read(0, 8).readBigUInt64LE());
      const meta = JSON.parse(read(8, n).toString('latin1')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
      expect(meta['big.weight']).toMatchObject({ dtype: 'F32', shape: [rows, cols] });
      expect(meta['h.0.mlp.c_fc.weight']).toMatchObject({ dtype: 'I8', shape: [8, 16] });
      const ends = Object.entries(meta).filter(([k]) => k !== '__metadata__').map(([, t]) => t.data_offsets[1]);
      expect(8 + n + Math.max(...ends)).toBe(size);
      const alonePath = join(dir, 'small.safetensors'), aloneOut = join(dir, 'small-int8.safetensors');
      writeFileSync(alonePath, writeSafetensors({ 'h.0.mlp.c_fc.weight': { dtype: 'F32', shape: [8, 16], data: small } }));
      expect(cli('quantize', alonePath, aloneOut).status).toBe(0);
      const alone = readSafetensors(readFileSync(aloneOut)).tensors;
      for (const key of ['h.0.mlp.c_fc.weight', 'h.0.mlp.c_fc.weight_scale']) {
        const [from, to] = meta[key]!.data_offsets;
        const raw = new Uint8Array(read(8 + n + from, to - from)); // its own buffer, offset 0
        const got = key.endsWith('_scale') ? new Float32Array(raw.buffer) : Float32Array.from(new Int8Array(raw.buffer));
        expect(got, key).toEqual(alone[key]!.data);
      }
      const bigEnd = 8 + n + meta['big.weight']!.data_offsets[1];
      expect(read(bigEnd - 16, 16)).toEqual(Buffer.alloc(16));
    } finally {
      closeSync(fd);
    }
    rmSync(inPath);
    rmSync(outPath);
  }, 300_000);
});
