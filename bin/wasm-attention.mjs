#!/usr/bin/env node
// The package's command line (node >= 20, runs the built dist/):
//   npx wasm-attention quantize <in.safetensors> <out.safetensors> [--embeddings] [--include RE] [--exclude RE] [--drop RE]
// writes an int8 copy of a safetensors file (quantizeSafetensors: the engine's own per-channel
// quantization) and prints the sizes and the quantization error. `-` reads stdin / writes stdout.
import {
  chmodSync, closeSync, fstatSync, lstatSync, openSync, readFileSync, readSync, realpathSync, renameSync, rmSync, statSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { defaultQuantizeKey, quantizeSafetensors, readSafetensors } from '../dist/index.js';

// Node's readFileSync and writeFileSync stop at 2 GiB (ERR_FS_FILE_TOO_LARGE, ERR_OUT_OF_RANGE);
// GPT-2 large in f32 is 3.1 GB. A regular file is read into one array of its size in chunks (up
// to the 4 GiB an array may hold), and every output is written in chunks.
const CHUNK = 1 << 30;

/** The bytes of a file (or of stdin, fd 0, or any non-regular file: readFileSync). */
function readAll(path) {
  const fd = openSync(path, 'r');
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) return new Uint8Array(readFileSync(fd));
    const bytes = new Uint8Array(stat.size);
    for (let at = 0; at < bytes.length;) {
      const n = readSync(fd, bytes, at, Math.min(CHUNK, bytes.length - at), at);
      if (n === 0) throw new Error(`the file ended at byte ${at} of ${bytes.length} (it shrank while being read)`);
      at += n;
    }
    return bytes;
  } finally {
    closeSync(fd);
  }
}

/** Writes all of bytes to an open file descriptor. */
function writeAllTo(fd, bytes) {
  for (let at = 0; at < bytes.length;) at += writeSync(fd, bytes, at, Math.min(CHUNK, bytes.length - at));
}

/** Creates (or truncates) the file at path, with mode when given, and writes bytes into it. */
function writeAll(path, bytes, mode) {
  const fd = openSync(path, 'w', mode);
  try {
    writeAllTo(fd, bytes);
  } finally {
    closeSync(fd);
  }
}

const USAGE = `usage: wasm-attention quantize <in.safetensors> <out.safetensors> [options]

  Writes an int8 copy of a safetensors file: each chosen 2-D weight K becomes I8 codes plus
  K_scale (F32, one scale per output channel), exactly as quantize: 'int8' quantizes it; the
  other tensors are copied as they are. loadSafetensors reads the result. The output may
  be the input itself (it is replaced once the copy is written); - is stdin or stdout.
  Default: every 2-D weight except embeddings (wte, wpe, *embeddings*, so GPT-2's tied
  lm_head stays f32), norms, BERT's pooler, classifiers and qa_outputs: the weights
  quantize: 'int8' quantizes, so the engine gives the same bits from this file as from
  the input.
  --embeddings  quantize the embedding tables too (per row: about 4x smaller in all; the
                engine then gathers dequantized embeddings, and GPT-2's tied lm_head is int8
                in the file too)
  --include RE  quantize the 2-D tensors whose name matches (instead of the default, so
                not with --embeddings)
  --exclude RE  keep the tensors whose name matches as they are, too
  --drop RE     leave the tensors whose name matches out of the output (e.g. '\\.attn\\.bias$':
                GPT-2's causal-mask buffers, which the engine does not read); an I8 weight
                goes with its _scale
  --help        this text`;

function fail(message) {
  process.stderr.write(`wasm-attention: ${message}\n`);
  process.exit(2);
}

/** "1,234,567 bytes (1.18 MiB)" */
function size(bytes) {
  return `${bytes.toLocaleString('en-US')} bytes (${(bytes / 2 ** 20).toFixed(2)} MiB)`;
}

/** A relative error as a percentage with 4 significant digits. */
function percent(x) {
  return `${(100 * x).toPrecision(4)}%`;
}

function quantize(args) {
  const files = [];
  let include, exclude, drop, embeddings = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--include' || a === '--exclude' || a === '--drop') {
      const text = args[++i];
      if (text === undefined) fail(`${a} needs a regular expression`);
      let re;
      try {
        re = new RegExp(text);
      } catch (error) {
        fail(`${a} ${JSON.stringify(text)}: ${error.message}`);
      }
      if (a === '--include') include = re;
      else if (a === '--exclude') exclude = re;
      else drop = re;
    } else if (a === '--embeddings') {
      embeddings = true;
    } else if (a === '--help' || a === '-h') {
      process.stdout.write(`${USAGE}\n`);
      return;
    } else if (a === '--') {
      files.push(...args.slice(i + 1)); // the rest are files, whatever they start with
      break;
    } else if (a.startsWith('-') && a !== '-') {
      fail(`unknown option ${a} (a file whose name starts with -: write ./${a}, or put it after --)\n${USAGE}`);
    } else {
      files.push(a);
    }
  }
  if (files.length > 2) fail(`unexpected argument ${JSON.stringify(files[2])}: quantize takes an input and an output file\n${USAGE}`);
  if (files.length !== 2) fail(`quantize needs an input and an output file\n${USAGE}`);
  if (include && embeddings) fail('--embeddings chooses among the default tensors, and --include replaces that choice: give one of them');
  const [inPath, outPath] = files;
  const inName = inPath === '-' ? 'stdin' : inPath, outName = outPath === '-' ? 'stdout' : outPath; // for messages
  let bytes;
  try {
    bytes = inPath === '-' ? new Uint8Array(readFileSync(0)) : readAll(inPath);
  } catch (error) {
    fail(`cannot read ${inName}: ${error.message}`);
  }
  const chosen = (name, shape) =>
    (include ? include.test(name) : defaultQuantizeKey(name, shape, embeddings)) && !(exclude && exclude.test(name));
  let result;
  try {
    result = quantizeSafetensors(bytes, { include: chosen, drop: drop && ((name) => drop.test(name)) });
  } catch (error) {
    fail(`${inName}: ${error.message}`);
  }
  // A regular file (or a new one) is written beside the output and renamed over it: a failed
  // write (a full disk) leaves no truncated file under the output's name, and the output may
  // be the input itself. A symbolic link is followed (its target is what gets replaced, with
  // the target's mode). The process's own stdout (`/dev/stdout`, whatever it is redirected to)
  // gets the bytes through fd 1, which keeps a shell's `>>`, and the summary goes to stderr;
  // anything else that is not a regular file (a named pipe, a device) and a dangling link are
  // written to directly.
  let stdout;
  try { stdout = fstatSync(1); } catch { /* no stdout: the output cannot be it */ }
  let here;
  try {
    here = outPath === '-' ? undefined : statSync(outPath, { throwIfNoEntry: false });
  } catch (error) { // ENOTDIR, ELOOP, ENAMETOOLONG, EACCES: no file can be written there
    fail(`cannot write ${outName}: ${error.message}`);
  }
  const toStdout = outPath === '-' || (stdout !== undefined && here !== undefined && here.dev === stdout.dev && here.ino === stdout.ino);
  let target, mode;
  if (!toStdout) {
    try {
      target = realpathSync(outPath);
      const stat = statSync(target);
      mode = stat.isFile() ? stat.mode & 0o7777 : undefined;
      if (!stat.isFile()) target = undefined;
    } catch (error) {
      if (error.code !== 'ENOENT') fail(`cannot write ${outName}: ${error.message}`);
      // A new file; a dangling link is written through, creating its target.
      try {
        target = lstatSync(outPath, { throwIfNoEntry: false })?.isSymbolicLink() ? undefined : outPath;
      } catch (error) {
        fail(`cannot write ${outName}: ${error.message}`);
      }
    }
  }
  if (toStdout) {
    try {
      writeAllTo(1, result.bytes);
    } catch (error) {
      fail(`cannot write ${outName}: ${error.message}`);
    }
  } else if (target === undefined) {
    try {
      writeAll(outPath, result.bytes);
    } catch (error) {
      fail(`cannot write ${outName}: ${error.message}`);
    }
  } else {
    // A short name of its own in the target's directory: the target's name may be as long as a
    // name can be (255 bytes), with no room for a suffix.
    const temporary = join(dirname(target), `.wasm-attention-${process.pid}-${Date.now().toString(36)}.tmp`);
    try {
      writeAll(temporary, result.bytes, mode);
      if (mode !== undefined) chmodSync(temporary, mode);
      renameSync(temporary, target);
    } catch (error) {
      try { rmSync(temporary, { force: true }); } catch { /* the write error is the one to report */ }
      fail(`cannot write ${outName}: ${error.message}`);
    }
  }
  const worst = result.quantized.reduce((a, t) => (a === undefined || t.relativeRmsError > a.relativeRmsError ? t : a), undefined);
  const lines = [
    `input:  ${inName}  ${size(result.inputBytes)}`,
    `output: ${outName}  ${size(result.outputBytes)}`,
    `ratio:  ${(result.outputBytes / result.inputBytes).toFixed(4)} (${result.outputBytes === result.inputBytes ? 'the same size'
      : result.outputBytes < result.inputBytes
      ? `${(result.inputBytes / result.outputBytes).toFixed(2)}x smaller`
      : `${(result.outputBytes / result.inputBytes).toFixed(2)}x larger`})`,
    `int8:   ${result.quantized.length} tensors quantized per output channel, ${result.kept.length} kept as they were` +
      (result.dropped.length > 0 ? `, ${result.dropped.length} dropped` : ''),
    worst === undefined
      ? 'error:  none (no tensor quantized)'
      : `error:  relative RMS ${percent(result.relativeRmsError)} overall, worst ${percent(worst.relativeRmsError)} (${worst.name})`,
  ];
  if (worst === undefined) {
    // Why nothing was quantized: the choice given matched no float 2-D tensor, or (the default
    // choice) the input's weights are int8 already, or it has none the default takes.
    const int8 = Object.values(readSafetensors(bytes).tensors).filter((t) => t.dtype === 'I8').length;
    const why = include ? 'no float 2-D tensor matched --include'
      : int8 > 0 ? `the input is already int8 (${int8} I8 tensor${int8 === 1 ? '' : 's'})`
      : 'no tensor matched the default choice (see --help)';
    const n = result.dropped.length;
    const so = n > 0 ? `the output is the input less the ${n} dropped tensor${n === 1 ? '' : 's'}` : 'the output is a copy of the input';
    lines.push(`note:   nothing quantized: ${why}; ${so}`);
  }
  (toStdout ? process.stderr : process.stdout).write(`${lines.join('\n')}\n`);
}

const [command, ...rest] = process.argv.slice(2);
if (command === 'quantize') quantize(rest);
else if (command === '--help' || command === '-h' || command === 'help') process.stdout.write(`${USAGE}\n`);
else fail(command === undefined ? USAGE : `unknown command ${JSON.stringify(command)}\n${USAGE}`);
