// A process that never disposes its 2-thread engine ends by itself once its work is done: Node,
// and Deno and Bun through their node:worker_threads, whose workers can be unref'd (Deno's web
// Workers cannot: such a process used to wait on them forever).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ESM script without types
import { npmBinary } from '../../scripts/runtime-binaries.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCRIPT = 'test/runtimes/exit-without-dispose.mjs';

const runtimes: [string, () => { command?: string; args: string[]; error?: string }][] = [
  ['node', () => ({ command: process.execPath, args: [SCRIPT] })],
  ['deno', () => {
    const bin = npmBinary('deno');
    return bin.error ? { error: bin.error, args: [] } : { command: bin.path, args: ['run', '--no-config', '--no-remote', '--no-npm', '--no-prompt', '--allow-read=dist,test', SCRIPT] };
  }],
  ['bun', () => {
    const bin = npmBinary('bun');
    return bin.error ? { error: bin.error, args: [] } : { command: bin.path, args: [SCRIPT] };
  }],
];

describe('a process with an undisposed 2-thread engine exits', () => {
  for (const [name, spec] of runtimes) {
    it(name, () => {
      const { command, args, error } = spec();
      if (error) throw new Error(error);
      const r = spawnSync(command!, args, { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
      expect(r.error, `${name} did not exit within 30 s (its workers kept it alive)`).toBeUndefined();
      expect(r.status, r.stderr).toBe(0);
      const m = /threads (\d+) runs (\d+)/.exec(r.stdout);
      expect(m, r.stdout).not.toBeNull();
      expect(Number(m![1])).toBe(2);
      expect(Number(m![2]), 'the calls ran on the workers').toBeGreaterThanOrEqual(2);
    }, 40_000);
  }
});
