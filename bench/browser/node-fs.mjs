// node:fs for bench scripts running in a page (bench/browser/child.mjs maps it here with an
// import map): the few synchronous calls the bench uses, as synchronous requests to the serving
// process, which reads the repository and writes under bench/results/ only.

/** A path, file: URL or http: URL of the repository, as a URL of the serving origin. */
function served(path) {
  const url = new URL(String(path), location.href);
  if (url.protocol === 'file:') throw new TypeError(`node:fs in the browser: ${url} is not served`);
  return url;
}

function request(method, path, body) {
  const xhr = new XMLHttpRequest();
  xhr.open(method, served(path), false);
  // Binary bodies through a synchronous request: each byte comes back as one char code.
  xhr.overrideMimeType('text/plain; charset=x-user-defined');
  xhr.send(body ?? null);
  return xhr;
}

/** The server answers HEAD with 200 for a file or a directory and 204 for neither. */
export function existsSync(path) {
  return request('HEAD', path).status === 200;
}

export function readFileSync(path, encoding) {
  const xhr = request('GET', path);
  if (xhr.status !== 200) throw new Error(`ENOENT: ${path} (HTTP ${xhr.status})`);
  const text = xhr.responseText;
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i) & 0xff;
  return encoding ? new TextDecoder(encoding === 'utf8' ? 'utf-8' : encoding).decode(bytes) : bytes;
}

export function writeFileSync(path, data) {
  const body = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  const xhr = request('PUT', path, body);
  if (xhr.status !== 200) throw new Error(`node:fs in the browser: cannot write ${path} (HTTP ${xhr.status})`);
}

/** Directories are made by the server as it writes. */
export function mkdirSync() {}

export default { existsSync, readFileSync, writeFileSync, mkdirSync };
