// The demo's static server (examples/demo/server.mjs, `npm start`): the repository's files with
// COOP/COEP, never a hidden file, a malformed URL answered (not a crash), a taken port refused.
import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ES module of the example, no types
import { serve, serverOptions } from '../../examples/demo/server.mjs';

describe('examples/demo/server.mjs', () => {
  it('serves the demo isolated; hidden files and malformed URLs are 404s, and the server stays up', async () => {
    const { url, close } = await serve({ port: 0 });
    try {
      const page = await fetch(`${url}examples/demo/`);
      expect(page.status).toBe(200);
      expect(page.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
      expect(page.headers.get('cross-origin-opener-policy')).toBe('same-origin');
      for (const path of ['.git/config', '.ci/run', 'examples/.hidden', '%2e%2e/%2e%2e/etc/passwd', '%E0%A4%A', 'no/such/file']) {
        expect((await fetch(url + path)).status, path).toBe(404);
      }
      expect((await fetch(`${url}package.json`)).status).toBe(200); // still serving
      // a directory without its slash is redirected (the page's ./demo.js would miss), / to the demo
      const bare = await fetch(`${url}examples/demo?x=1`, { redirect: 'manual' });
      expect(bare.status).toBe(301);
      expect(bare.headers.get('location')).toBe('/examples/demo/?x=1');
      const root = await fetch(url, { redirect: 'manual' });
      expect(root.status).toBe(302);
      expect(root.headers.get('location')).toBe('/examples/demo/');
      expect((await fetch(url)).url).toBe(`${url}examples/demo/`);
      // never to another host: the path //evil.com/… normalises to a directory here
      // (sent raw: fetch would normalise the dot segment away)
      const away = await new Promise<{ status?: number; location?: string }>((resolve, reject) => {
        request(`${url}x`, { path: '/.//evil.com/%2E%2E%2Fexamples' }, (res) => {
          res.resume();
          resolve({ status: res.statusCode, location: res.headers.location });
        }).on('error', reject).end();
      });
      expect(away.status).toBe(301);
      expect(away.location).toBe('/evil.com/%2E%2E%2Fexamples/');
    } finally {
      await close();
    }
  });

  it('without isolation: no COOP/COEP headers', async () => {
    const { url, close } = await serve({ port: 0, isolation: false });
    try {
      const page = await fetch(`${url}examples/demo/`);
      expect(page.status).toBe(200);
      expect(page.headers.get('cross-origin-embedder-policy')).toBeNull();
    } finally {
      await close();
    }
  });

  it('a taken port rejects (EADDRINUSE); --port, PORT and --no-isolation are read, a bad port named', async () => {
    const first = await serve({ port: 0 });
    try {
      const port = Number(new URL(first.url).port);
      await expect(serve({ port })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    } finally {
      await first.close();
    }
    expect(serverOptions(['--port', '9001', '--no-isolation'], {})).toEqual({ port: 9001, isolation: false });
    expect(serverOptions([], { PORT: '9002' })).toEqual({ port: 9002, isolation: true });
    expect(serverOptions([], {})).toEqual({ port: 8080, isolation: true });
    expect(() => serverOptions(['--port', 'abc'], {})).toThrow(/--port \(or PORT\) must be an integer in 0\.\.65535, got abc/);
    expect(() => serverOptions(['--prot', '8090'], {})).toThrow(/unknown argument "--prot"/);
    expect(() => serverOptions(['--port', '8090', 'extra'], {})).toThrow(/unknown argument "extra"/);
    // Decimal digits only: Number('') is 0 (a random port), Number('0x20C8') is 8392.
    for (const bad of ['', '0x20C8', '1e3', ' 80', '80.0', '65536']) {
      expect(() => serverOptions(['--port', bad], {}), JSON.stringify(bad)).toThrow(/--port \(or PORT\) must be an integer in 0\.\.65535/);
      expect(() => serverOptions([], { PORT: bad }), `PORT=${JSON.stringify(bad)}`).toThrow(/must be an integer in 0\.\.65535/);
    }
    expect(() => serverOptions(['--port', '8090', '--port', '8091'], {})).toThrow(/--port is given twice/);
  });
});
