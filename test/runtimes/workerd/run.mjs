// workerd runs of the runtime smoke suite: starts the workerd binary of the `workerd` npm package
// on config.capnp (every socket on 127.0.0.1, port 0; the ports are read back through
// --control-fd), GETs / of each service (plain, compat, current), prints their lines, then
// `N passed, M failed` over all three; exits 1 on any failure. Stops workerd when done.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CONFIG = fileURLToPath(new URL('./config.capnp', import.meta.url));
const SERVICES = ['plain', 'compat', 'current'];
const START_TIMEOUT_MS = 30_000;
const REQUEST_TIMEOUT_MS = 120_000;

const binary = process.argv[2] ?? `${ROOT}node_modules/@cloudflare/workerd-linux-64/bin/workerd`;

/** Starts workerd; resolves with the child and socket → port once every socket listens. */
function start() {
  const child = spawn(binary, ['serve', CONFIG, '--control-fd=3'], {
    cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout.on('data', (d) => { log += d; });
  child.stderr.on('data', (d) => { log += d; });
  return new Promise((resolve, reject) => {
    const ports = {};
    let control = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`workerd did not listen within ${START_TIMEOUT_MS / 1000} s; its output:\n${log}`));
    }, START_TIMEOUT_MS);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`could not start ${binary}: ${error.message} (npm install installs the workerd package)`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`workerd exited (${signal ?? `code ${code}`}) before listening; its output:\n${log}`));
    });
    child.stdio[3].on('data', (chunk) => {
      control += chunk;
      for (let nl = control.indexOf('\n'); nl >= 0; nl = control.indexOf('\n')) {
        const message = JSON.parse(control.slice(0, nl));
        control = control.slice(nl + 1);
        if (message.event === 'listen') ports[message.socket] = message.port;
      }
      if (SERVICES.every((s) => ports[s])) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        resolve({ child, ports, log: () => log });
      }
    });
  });
}

async function main() {
  let passed = 0;
  let failed = 0;
  let server;
  try {
    server = await start();
    console.log(`# ${binary.replace(ROOT, '')}: listening on 127.0.0.1 ports ${JSON.stringify(server.ports)}`);
    for (const service of SERVICES) {
      let text;
      try {
        const response = await fetch(`http://127.0.0.1:${server.ports[service]}/?flavour=${service}`,
          { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
        text = await response.text();
      } catch (error) {
        text = `FAIL - workerd (${service}): request failed: ${error.message}\n0 passed, 1 failed\n`;
      }
      const lines = text.trimEnd().split('\n');
      const summary = /^(\d+) passed, (\d+) failed$/.exec(lines.at(-1));
      for (const line of lines.slice(0, summary ? -1 : undefined)) console.log(line);
      if (summary) {
        passed += Number(summary[1]);
        failed += Number(summary[2]);
      } else {
        console.log(`FAIL - workerd (${service}): the answer has no closing "N passed, M failed" line`);
        failed++;
      }
    }
  } catch (error) {
    console.log(`FAIL - workerd: ${error.message}`);
    failed++;
  } finally {
    if (server) {
      const exited = new Promise((resolve) => server.child.once('exit', resolve));
      server.child.kill('SIGTERM');
      const timer = setTimeout(() => server.child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
      const log = server.log().trim();
      if (log) console.log(log.split('\n').map((line) => `# workerd log: ${line}`).join('\n'));
    }
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed === 0 ? 0 : 1;
}

await main();
