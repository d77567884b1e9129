// `await using` (explicit resource management): every handle with dispose() also answers
// Symbol.asyncDispose, where the runtime defines that symbol (Node 20.4+, Deno, Bun, Chromium;
// TypeScript 5.2+ compiles the syntax for older targets through the same symbol).

/** The handle's part for `await using`: `{ [Symbol.asyncDispose]: dispose }`, spread into the
 * handle before it is frozen; `{}` where the runtime has no Symbol.asyncDispose (the symbol is
 * read at each call, so a polyfill loaded after this module still counts). */
export function asyncDisposer(dispose: () => Promise<void>): { [Symbol.asyncDispose](): Promise<void> } {
  const symbol: unknown = (Symbol as { asyncDispose?: symbol }).asyncDispose;
  return (typeof symbol === 'symbol' ? { [symbol]: dispose } : {}) as { [Symbol.asyncDispose](): Promise<void> };
}
