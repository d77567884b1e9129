// node:child_process for bench scripts running in a page (bench/browser/child.mjs): a page starts
// no process. The one call the children make is bench/peak-probe.mjs's buildPeak, which the
// serving process has already run: it passes when its output ('-o FILE') is there, and throws
// otherwise rather than pretend to have run anything.
import { existsSync } from './node-fs.mjs';

export function execFileSync(file, args = []) {
  const out = args[args.indexOf('-o') + 1];
  if (args.indexOf('-o') >= 0 && existsSync(out)) return '';
  throw new Error(`node:child_process in the browser: cannot run ${file} ${args.join(' ')}`);
}
export default { execFileSync };
