// npm start: the demo page on a local server (COOP/COEP set, so threads engage; --port N, or
// --no-isolation for a page without SharedArrayBuffer, one thread), or with --cli the terminal
// version for a machine without a display; --generate "prompt" streams the shipped char-GPT's
// text to the terminal instead (generate-cli.mjs).
if (process.argv.includes('--generate')) {
  await import('./generate-cli.mjs');
} else if (process.argv.includes('--cli')) {
  await import('./cli.mjs');
} else {
  const { main } = await import('./server.mjs');
  await main(process.argv.slice(2), process.env, 'no display? npm start -- --cli');
}
