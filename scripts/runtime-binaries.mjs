// Runtime binaries the tests and benchmarks start (scripts/test-runtimes.mjs, bench/runtimes.mjs,
// the browser harnesses in test/runtimes/): Deno, Bun and workerd each shipped in an npm package
// for this platform (linux-x64, CI's), whose platform packages are devDependencies, so no install
// script has to fetch anything; Chromium from Debian, which nothing downloads either.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8'));

/** The version of a devDependency as package.json pins it. */
export const pinned = (name) => pkg.devDependencies?.[name] ?? '(not in devDependencies)';

/** engine.int8Dot the relaxed build must report in the V8 runtimes of the matrix that run it by
 * default (Deno 2.9 / V8 15, Debian's Chromium), on x64 Linux (the flags of /proc/cpuinfo): the
 * relaxed dot on signed codes with AVX-VNNI-INT8 (V8 lowers it to the signed × signed
 * vpdpbssd there), on unsigned ones with AVX-VNNI alone (vpdpbusd), else the i16 dot;
 * undefined (not checked) elsewhere. Node 20's V8 11.3 computes it wrong (docs/DESIGN.md): no
 * expectation there. */
export const EXPECT_INT8_DOT = (() => {
  if (process.platform !== 'linux' || process.arch !== 'x64') return undefined;
  let flags;
  try {
    flags = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return undefined;
  }
  if (/\bavx_vnni_int8\b/.test(flags)) return 'relaxed_dot_i8x16_i7x16_signed';
  return /\bavx_vnni\b/.test(flags) ? 'relaxed_dot_i8x16_i7x16' : 'dot_i16x8';
})();

/** Path of each binary inside node_modules. */
export const BINARIES = {
  deno: '@deno/linux-x64-glibc/deno',
  bun: '@oven/bun-linux-x64/bin/bun',
  workerd: '@cloudflare/workerd-linux-64/bin/workerd',
};

/** A runtime binary from node_modules: `{ path, version }`, or `{ error }` saying why it cannot be run. */
export function npmBinary(name) {
  const path = `${ROOT}node_modules/${BINARIES[name]}`;
  const pkgName = BINARIES[name].split('/').slice(0, 2).join('/');
  const hint = `run \`npm install\` (devDependency ${pkgName}@${pinned(pkgName)}, linux-x64)`;
  if (!existsSync(path)) return { error: `${path} is missing: ${hint}` };
  const r = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 30_000 });
  if (r.error || r.status !== 0) {
    return { error: `\`${name} --version\` failed (${r.error?.message ?? `exit ${r.status}: ${r.stderr.trim()}`}): ${hint}` };
  }
  return { path, version: r.stdout.trim().split('\n')[0] };
}

/** Debian's Chromium, the one browser playwright-core drives; WASM_ATTENTION_CHROMIUM names another. */
export const CHROMIUM = process.env.WASM_ATTENTION_CHROMIUM || '/usr/bin/chromium';
export const CHROMIUM_INSTALL = 'apt-get update && apt-get install -y chromium';

let chromium; // probed once per process: the runtime matrix asks for each of its three browser runtimes

/**
 * The browser: `{ path, version }`; `{ absent }` when no executable file is at CHROMIUM (the
 * runtime matrix then skips its browser checks, unless WASM_ATTENTION_REQUIRE_BROWSER=1), saying
 * so, for the caller to add CHROMIUM_INSTALL; `{ error }` when one is there but `--version` fails,
 * saying why and how to fix it.
 */
export function chromiumBinary() {
  if (chromium) return chromium;
  const named = process.env.WASM_ATTENTION_CHROMIUM ? ' (WASM_ATTENTION_CHROMIUM)' : '';
  let executable;
  try {
    accessSync(CHROMIUM, constants.X_OK);
    executable = statSync(CHROMIUM).isFile(); // a directory passes X_OK too
  } catch {
    executable = false;
  }
  if (!executable) {
    chromium = { absent: `no Chromium at ${CHROMIUM}${named}` };
    return chromium;
  }
  const r = spawnSync(CHROMIUM, ['--version'], { encoding: 'utf8', timeout: 30_000 });
  if (r.error || r.status !== 0) {
    const stderr = r.stderr?.trim().split('\n').at(-1);
    const why = r.error?.message ?? `exit ${r.status ?? r.signal}${stderr ? `: ${stderr}` : ''}`;
    chromium = { error: `\`${CHROMIUM} --version\`${named} failed (${why}): install Debian's Chromium with ` +
      `\`${CHROMIUM_INSTALL}\`` };
    return chromium;
  }
  chromium = { path: CHROMIUM, version: r.stdout.trim().split('\n')[0] };
  return chromium;
}
