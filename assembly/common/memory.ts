// Memory-access helpers shared by kernel families (no SIMD; @inline, no allocation).

/**
 * Reads one byte of every 4 KiB page of [from, to) (from, from + 4096, ... < to) and returns
 * their sum: a kernel about to stream a range it did not read recently starts every page's
 * translation and first cache line at once, instead of one page at a time as the stream
 * reaches it (hardware prefetchers stop at 4 KiB page boundaries, and this VM gives V8's wasm
 * memory no huge pages). Every byte read lies in [from, to), so a caller that passes bytes it
 * reads anyway never reads past the memory. The sum (at most 255 per page, never negative)
 * is the caller's to use, so the loads are not dead code. Used where it measured faster: the
 * decoding attention (its K and V rows) and the f32 GEMV (its panels); the int8 GEMV measured
 * slower with it (docs/PERFORMANCE.md, 2026-12-05).
 */
// @ts-ignore: decorator
@inline export function touchPages(from: usize, to: usize): i32 {
  let sum = 0;
  for (let at = from; at < to; at += 4096) sum += load<u8>(at);
  return sum;
}
