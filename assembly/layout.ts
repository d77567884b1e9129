// The kernel side of the memory map. The host owns all of linear memory (an arena of 16-byte
// aligned buffers); the kernels own nothing but the scratch layout below, which lives in a
// slot the host hands them. src/wasm/layout.ts mirrors these numbers and a test checks that
// the exported globals agree.

/** Alignment, in bytes, of every buffer the host places. */
export const ALIGN: i32 = 16;

/** Rows of one packed-A strip of the packed GEMM (its register tile's height). */
export const GEMM_STRIP_ROWS: i32 = 4;

/** Columns of one packed-B panel of the packed GEMM (its register tile's width). */
export const GEMM_PANEL_COLS: i32 = 8;

// The int8 GEMM (i8-gemm/) reuses the 4×8 tile: A strips of GEMM_STRIP_ROWS rows, B panels of
// GEMM_PANEL_COLS columns, k rounded up to I8_GEMM_K_ALIGN. A strip is a header of per-row
// scales (f32) and zero points (i32), then kp·8 bytes; a panel is a header of per-column
// scales (f32) and column sums (i32), then kp·8 bytes (layouts in i8-gemm/i8-gemm.ts).

/** k of the int8 GEMM is padded to a multiple of this (zero weights past k). */
export const I8_GEMM_K_ALIGN: i32 = 4;

/** Bytes of an int8 A strip's header: GEMM_STRIP_ROWS f32 scales, then as many i32 zero points. */
export const I8_GEMM_STRIP_HEADER: i32 = GEMM_STRIP_ROWS * 8;

/** Bytes of an int8 B panel's header: GEMM_PANEL_COLS f32 scales, then as many i32 column sums. */
export const I8_GEMM_PANEL_HEADER: i32 = GEMM_PANEL_COLS * 8;

/** Largest activation code (codes are 0..255: widened to i16 for i32x4.dot_i16x8_s, or u8 operands
 * of the relaxed dot where it is exact; both builds). */
export const I8_GEMM_A_MAX: i32 = 255;

/** Query rows one attention tile computes at once. */
export const ATTENTION_QUERY_TILE: i32 = 4;

/** Keys one attention step streams (one online-softmax update). */
export const ATTENTION_KEY_BLOCK: i32 = 64;

/** Query rows that share each streamed key block (a multiple of the tile). */
export const ATTENTION_QUERY_CHUNK: i32 = 16 * ATTENTION_QUERY_TILE;

/** Keys a chunk of ONE query row (decoding) takes per online-softmax step: its S row (P in
 * place) lives in the QP and KP regions, which a one-row chunk never packs. */
export const ATTENTION_ROW_KEY_BLOCK: i32 = 1024;

/** Largest headDim whose query chunk and key block are packed for the 4×8 register tile
 * (larger head dims compute S with the unpacked dot-product tile). */
export const ATTENTION_PACKED_DIM: i32 = 128;

// Scratch slot of f32_attention, in f32 elements from its start (every region 16-byte aligned):
//   P  [KEY_BLOCK, QUERY_TILE]            probabilities of the current key block, key-major
//                                         (row-major [rows][KEY_BLOCK] for tiles of 1..3 rows)
//   S  [QUERY_TILE, KEY_BLOCK]            scaled, masked logits of the current tile
//   M  [QUERY_CHUNK]                      running row maximum
//   L  [QUERY_CHUNK]                      running row sum
//   QP [QUERY_CHUNK / 4, PACKED_DIM, 4]   the query chunk in 4-row strips
//   KP [KEY_BLOCK / 8, PACKED_DIM, 8]     the key block as 8-key panels of Kᵀ
//   A chunk of one query row packs nothing: its S row of up to ROW_KEY_BLOCK keys (P written
//   over it) starts at QP (ROW_KEY_BLOCK <= (QUERY_CHUNK + KEY_BLOCK)·PACKED_DIM: QP and KP).
export const ATTENTION_SCRATCH_P: i32 = 0;
export const ATTENTION_SCRATCH_S: i32 = ATTENTION_SCRATCH_P + ATTENTION_QUERY_TILE * ATTENTION_KEY_BLOCK;
export const ATTENTION_SCRATCH_M: i32 = ATTENTION_SCRATCH_S + ATTENTION_QUERY_TILE * ATTENTION_KEY_BLOCK;
export const ATTENTION_SCRATCH_L: i32 = ATTENTION_SCRATCH_M + ATTENTION_QUERY_CHUNK;
export const ATTENTION_SCRATCH_QP: i32 = ATTENTION_SCRATCH_L + ATTENTION_QUERY_CHUNK;
export const ATTENTION_SCRATCH_KP: i32 = ATTENTION_SCRATCH_QP + ATTENTION_QUERY_CHUNK * ATTENTION_PACKED_DIM;

/** Bytes of one f32_attention scratch slot. */
export const ATTENTION_SCRATCH_BYTES: i32 = (ATTENTION_SCRATCH_KP + ATTENTION_KEY_BLOCK * ATTENTION_PACKED_DIM) * 4;

/** 1 in the relaxed-SIMD build, 0 in the baseline build (lets the host name a module it was given). */
export const KERNEL_RELAXED_SIMD: i32 = ASC_FEATURE_RELAXED_SIMD ? 1 : 0;

/** 1 in the builds that import a shared memory (threads enabled), 0 in the unshared ones. */
export const KERNEL_SHARED_MEMORY: i32 = ASC_FEATURE_THREADS ? 1 : 0;
