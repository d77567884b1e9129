// npm start: the demo page on a local server (COOP/COEP set, so threads engage), or with --cli
// the terminal version for a machine without a display.
if (process.argv.includes('--cli')) {
  await import('./cli.mjs');
} else {
  await import('./server.mjs').then(({ serve }) => serve({ port: Number(process.env.PORT ?? 8080) })).then(({ url }) => {
    console.log(`wasm-attention demo: open ${url}examples/demo/   (Ctrl-C stops it; no display? npm start -- --cli)`);
  });
}
