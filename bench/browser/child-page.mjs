// The page side of bench/browser/child.mjs: runs one bench script with the arguments in the query
// string, as `node bench/<script> <args>` would, and reports its end through window.__benchDone
// (exposed by child.mjs). Its output is its console.log lines.
const params = new URLSearchParams(location.search);
const script = params.get('script');
const args = JSON.parse(params.get('args') ?? '[]');

class Exit extends Error {}
let ended = false;
const end = (code) => {
  if (!ended) window.__benchDone(code);
  ended = true;
};
// No `versions`: the engine and onnxruntime-web take a `process` with versions.node for Node.
globalThis.process = {
  argv: ['chromium', script, ...args],
  env: {},
  execArgv: [],
  exit(code = 0) {
    end(code);
    throw new Exit(`exit ${code}`);
  },
};

try {
  if (!crossOriginIsolated) throw new Error('the page is not cross-origin isolated: no SharedArrayBuffer for threads');
  await import(new URL(`../${script}`, import.meta.url).href);
  end(0);
} catch (error) {
  if (!(error instanceof Exit)) {
    console.error(`${error?.stack ?? error}`);
    end(1);
  }
}
