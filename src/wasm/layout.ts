// The host side of the memory map; mirrors assembly/layout.ts (test/kernels/layout.test.ts
// checks the exported globals against these numbers).

/** Alignment of every buffer in the arena (one f32x4). */
export const ALIGN = 16;
/** Bytes at address 0 that are never handed out, so pointer 0 can mean "absent". */
export const NULL_GUARD = 64;
export const ATTENTION_QUERY_TILE = 4;
export const ATTENTION_KEY_BLOCK = 64;
/** One f32_attention scratch slot: P and S blocks [QUERY_TILE, KEY_BLOCK], m and l rows. */
export const ATTENTION_SCRATCH_BYTES = (2 * ATTENTION_QUERY_TILE * ATTENTION_KEY_BLOCK + 2 * ATTENTION_QUERY_TILE) * 4;

/** WebAssembly page size. */
export const PAGE_BYTES = 65536;
/** Pages the engine's memory may grow to (2 GiB); the kernels declare 65536 (4 GiB). */
export const MAX_PAGES = 32768;
