// Runtime binaries the tests and benchmarks start (scripts/test-runtimes.mjs, bench/runtimes.mjs):
// each shipped in an npm package for this platform (linux-x64, CI's); the platform packages
// themselves are devDependencies, so no install script has to fetch anything.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8'));

/** The version of a devDependency as package.json pins it. */
export const pinned = (name) => pkg.devDependencies?.[name] ?? '(not in devDependencies)';

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
