// A static server for the demo (and the browser tests): the repository on 127.0.0.1, with the
// COOP/COEP headers that give the page SharedArrayBuffer (so workers can share the memory).
//   node examples/demo/server.mjs [--port 8080] [--no-isolation]
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.wasm': 'application/wasm', '.json': 'application/json', '.css': 'text/css', '.svg': 'image/svg+xml', '.map': 'application/json' };

/** The file a request path names under root, or undefined: a malformed escape, or a hidden
 * file or directory (`.git`, `.ci`, …) anywhere on the path. `..` cannot climb above root. */
function fileOf(url) {
  let path;
  try {
    path = decodeURIComponent(new URL(url, 'http://x').pathname);
  } catch {
    return undefined;
  }
  path = normalize(path).replace(/^(\.\.[/\\])+/, '');
  if (path.split(/[/\\]/).some((part) => part.startsWith('.'))) return undefined;
  const file = join(root, path);
  return file.startsWith(root.replace(/[/\\]$/, '')) ? file : undefined;
}

/** Starts the server; resolves to its base URL and a close function (rejects if it cannot
 * listen, e.g. the port is taken). */
export async function serve({ port = 0, isolation = true } = {}) {
  const server = createServer(async (req, res) => {
    let file = fileOf(req.url);
    try {
      if (file === undefined) throw new Error('not served');
      const { pathname, search } = new URL(req.url, 'http://x');
      if (pathname === '/') {
        res.writeHead(302, { Location: '/examples/demo/' }).end();
        return;
      }
      if ((await stat(file)).isDirectory()) {
        // A directory without its slash: the page's relative URLs (./demo.js) need it.
        if (!pathname.endsWith('/')) {
          // One leading slash: //host/… would send the browser to another host.
          res.writeHead(301, { Location: `/${pathname.replace(/^\/+/, '')}/${search}` }).end();
          return;
        }
        file = join(file, 'index.html');
      }
      const body = await readFile(file);
      const headers = { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream', 'Cache-Control': 'no-store' };
      if (isolation) {
        headers['Cross-Origin-Opener-Policy'] = 'same-origin';
        headers['Cross-Origin-Embedder-Policy'] = 'require-corp';
      }
      res.writeHead(200, headers).end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const url = `http://127.0.0.1:${server.address().port}/`;
  return { url, close: () => new Promise((resolve) => server.close(resolve)) };
}

/** `--port N` and `--no-isolation` from argv (PORT in the environment as the default port). */
export function serverOptions(argv, env) {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--port') i++;
    else if (argv[i] !== '--no-isolation') {
      throw new RangeError(`unknown argument ${JSON.stringify(argv[i])} (the server takes --port N and --no-isolation; ` +
        'the terminal versions: --cli, --generate "prompt")');
    }
  }
  const at = argv.indexOf('--port');
  if (at >= 0 && argv.indexOf('--port', at + 1) >= 0) throw new RangeError('--port is given twice');
  const text = at >= 0 ? argv[at + 1] : env.PORT === undefined ? '8080' : env.PORT;
  // Decimal digits only: Number() would take '' as 0 (a random port) and '0x20C8' as 8392.
  const port = typeof text === 'string' && /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`--port (or PORT) must be an integer in 0..65535, got ${at >= 0 ? argv[at + 1] : env.PORT}`);
  }
  return { port, isolation: !argv.includes('--no-isolation') };
}

/** Serves until Ctrl-C, or exits 1 with a one-line reason (a bad port, a port in use). */
export async function main(argv, env, hint) {
  let url, isolation;
  try {
    const options = serverOptions(argv, env);
    isolation = options.isolation;
    ({ url } = await serve(options));
  } catch (error) {
    console.error(`wasm-attention demo: ${error.code === 'EADDRINUSE' ? `port ${error.port} is in use (choose another with --port N)` : error.message}`);
    process.exit(1);
  }
  console.log(`wasm-attention demo: open ${url}examples/demo/${isolation ? '' : '   (not cross-origin isolated: one thread)'}   (Ctrl-C stops it; ${hint})`);
  // Under `npm start`, a SIGTERM or SIGINT sent to npm alone reaches the shell that runs the
  // script (npm run build && node …), not this process, which would outlive them both. When
  // that shell goes, this process is given another parent: stop then too.
  if (env.npm_lifecycle_event !== undefined) {
    const parent = process.ppid;
    setInterval(() => { if (process.ppid !== parent) process.exit(0); }, 500).unref();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await main(process.argv.slice(2), process.env, 'on a machine without a display: npm start -- --cli');
}
