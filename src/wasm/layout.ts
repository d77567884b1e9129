// The host side of the memory map; mirrors assembly/layout.ts (test/kernels/layout.test.ts
// checks the exported globals against these numbers).

/** Alignment of every buffer in the arena (one f32x4). */
export const ALIGN = 16;
// Fixed regions below the arena (addresses in bytes), all derived from MAX_PHASES:
//   [0, 64)                       never handed out, so pointer 0 can mean "absent"
//   [CONTROL_OFFSET, +CONTROL_BYTES) the worker pool's control block: CONTROL_SLOTS Int32 slots,
//                                 a header, then one item counter and one barrier per phase
//   [PROGRAM_OFFSET, +PROGRAM_BYTES) the current dispatch: MAX_PHASES records of PHASE_SLOTS f64
//   [ARENA_BASE, …)               resident blocks (layer weights), then the buffers of the current call
// A program longer than MAX_PHASES is run as several dispatches (src/parallel/pool.ts), so the
// capacity bounds nothing but one dispatch; test/parallel/protocol.test.ts checks that no two
// slots or regions overlap.

/** Phases of one dispatch: a 12-layer transformer's forward pass (about 12 phases a layer) fits. */
export const MAX_PHASES = 256;
/** f64 fields of one phase record (kind + fields; the attention phase has 51). */
export const PHASE_SLOTS = 64;
/** Int32 slots before the per-phase counters (EPOCH, COMMAND, PHASES, DONE, ERROR, GEN, spare). */
export const CONTROL_HEADER_SLOTS = 8;
/** Int32 slots of the control block: the header, MAX_PHASES item counters, MAX_PHASES barriers. */
export const CONTROL_SLOTS = CONTROL_HEADER_SLOTS + 2 * MAX_PHASES;
export const CONTROL_OFFSET = 64;
/** Whole 64-byte lines, so the program region starts on a line of its own. */
export const CONTROL_BYTES = Math.ceil((CONTROL_SLOTS * 4) / 64) * 64;
export const PROGRAM_OFFSET = CONTROL_OFFSET + CONTROL_BYTES;
export const PROGRAM_BYTES = MAX_PHASES * PHASE_SLOTS * 8;
export const ARENA_BASE = PROGRAM_OFFSET + PROGRAM_BYTES;
/** Rows of a packed-A strip and columns of a packed-B panel (the packed GEMM's 4×8 tile). */
export const GEMM_STRIP_ROWS = 4;
export const GEMM_PANEL_COLS = 8;
/** The int8 GEMM (assembly/i8-gemm/i8-gemm.ts): k padded to I8_GEMM_K_ALIGN; a strip is a header
 * of 4 f32 scales + 4 i32 zero points, then 8·kp code bytes (i16); a panel is a header of 8 f32
 * scales + 8 i32 column sums, then 8·kp code bytes. Both builds use these sizes. */
export const I8_GEMM_K_ALIGN = 4;
export const I8_GEMM_STRIP_HEADER = GEMM_STRIP_ROWS * 8;
export const I8_GEMM_PANEL_HEADER = GEMM_PANEL_COLS * 8;
/** Largest activation code (both builds). */
export const I8_GEMM_A_MAX = 255;
export const ATTENTION_QUERY_TILE = 4;
export const ATTENTION_KEY_BLOCK = 64;
/** Query rows that share each streamed key block inside the kernel. */
export const ATTENTION_QUERY_CHUNK = 16 * ATTENTION_QUERY_TILE;
/** Largest headDim the attention kernel packs for its 4×8 register tile (Q chunk and K block). */
export const ATTENTION_PACKED_DIM = 128;
/** Keys a one-row attention chunk (decoding) takes per step. */
export const ATTENTION_ROW_KEY_BLOCK = 1024;
/** One f32_attention scratch slot: P and S blocks [QUERY_TILE, KEY_BLOCK], m and l per chunk row,
 * the packed query chunk [QUERY_CHUNK, PACKED_DIM] and key block [KEY_BLOCK, PACKED_DIM]. */
export const ATTENTION_SCRATCH_BYTES = (2 * ATTENTION_QUERY_TILE * ATTENTION_KEY_BLOCK + 2 * ATTENTION_QUERY_CHUNK +
  (ATTENTION_QUERY_CHUNK + ATTENTION_KEY_BLOCK) * ATTENTION_PACKED_DIM) * 4;
/** Bytes from one thread's scratch slot to the next: whole 128-byte blocks (two cache lines, as
 * adjacent-line prefetchers pair them), so no two threads ever write the same line. */
export const SCRATCH_SLOT_STRIDE = Math.ceil(ATTENTION_SCRATCH_BYTES / 128) * 128;

/** WebAssembly page size. */
export const PAGE_BYTES = 65536;
/** Pages the engine's memory may grow to (2 GiB); the kernels declare 65536 (4 GiB). */
export const MAX_PAGES = 32768;
