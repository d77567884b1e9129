// npm start: the demo page on a local server (COOP/COEP set, so threads engage), or with --cli
// the terminal version for a machine without a display; --generate "prompt" streams the shipped
// char-GPT's text to the terminal instead (generate-cli.mjs).
if (process.argv.includes('--generate')) {
  await import('./generate-cli.mjs');
} else if (process.argv.includes('--cli')) {
  await import('./cli.mjs');
} else {
  await import('./server.mjs').then(({ serve }) => serve({ port: Number(process.env.PORT ?? 8080) })).then(({ url }) => {
    console.log(`wasm-attention demo: open ${url}examples/demo/   (Ctrl-C stops it; no display? npm start -- --cli)`);
  });
}
