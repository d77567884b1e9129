// The host side of the kernel ABI (assembly/index.ts): numbers only. Pointers are byte
// addresses into the engine's memory, strides and sizes are in ELEMENTS, 0 means "absent".

export interface KernelExports {
  /** C = A·B (+ bias). */
  f32_gemm_nn(
    m: number,    // rows of A and C
    n: number,    // columns of B and C
    k: number,    // columns of A, rows of B
    a: number,    // f32 [m, k]
    lda: number,  // row stride of A
    b: number,    // f32 [k, n]
    ldb: number,  // row stride of B
    bias: number, // f32 [n] added to every row, or 0
    c: number,    // f32 [m, n] output, overlapping no input
    ldc: number,  // row stride of C
  ): void;
  /** C = alpha·A·Bᵀ (+ bias); nn.Linear with B = weight [out, in]. */
  f32_gemm_nt(
    m: number,     // rows of A and C
    n: number,     // rows of B, columns of C
    k: number,     // columns of A and B
    a: number,     // f32 [m, k]
    lda: number,   // row stride of A
    b: number,     // f32 [n, k]
    ldb: number,   // row stride of B
    bias: number,  // f32 [n] added after scaling, or 0
    c: number,     // f32 [m, n] output, overlapping no input
    ldc: number,   // row stride of C
    alpha: number, // scale of A·Bᵀ
  ): void;
  /** Packs strips s0..s1 of A as [strip, k, GEMM_STRIP_ROWS] (zero rows past m). */
  f32_pack_rows(
    m: number,   // rows of A
    k: number,   // columns of A
    a: number,   // f32 [m, k]
    lda: number, // row stride of A
    ap: number,  // f32 [ceil(m / GEMM_STRIP_ROWS), k, GEMM_STRIP_ROWS] output (strip 0)
    s0: number,  // first strip
    s1: number,  // one past the last strip
  ): void;
  /** Packs panels p0..p1 of B = Wᵀ as [panel, k, GEMM_PANEL_COLS] (zero columns past n). */
  f32_pack_panels_nt(
    n: number,   // rows of W = columns of B
    k: number,   // columns of W = rows of B
    w: number,   // f32 [n, k] (nn.Linear weight [out, in])
    ldw: number, // row stride of W
    bp: number,  // f32 [ceil(n / GEMM_PANEL_COLS), k, GEMM_PANEL_COLS] output (panel 0)
    p0: number,  // first panel
    p1: number,  // one past the last panel
  ): void;
  /** Packs panels p0..p1 of B as [panel, k, GEMM_PANEL_COLS] (zero columns past n). */
  f32_pack_panels_nn(
    k: number,   // rows of B
    n: number,   // columns of B
    b: number,   // f32 [k, n]
    ldb: number, // row stride of B
    bp: number,  // f32 [ceil(n / GEMM_PANEL_COLS), k, GEMM_PANEL_COLS] output (panel 0)
    p0: number,  // first panel
    p1: number,  // one past the last panel
  ): void;
  /** C = act(A·B + bias) + residual from packed A strips and B panels. */
  f32_gemm_packed(
    m: number,          // rows of C
    n: number,          // columns of C
    k: number,          // inner dimension
    ap: number,         // A strips (f32_pack_rows), the strip holding row 0 of C
    bp: number,         // B panels (f32_pack_panels_*), the panel holding column 0 of C
    bias: number,       // f32 [n] added to every row, or 0
    c: number,          // f32 [m, n] output, overlapping no input but the residual
    ldc: number,        // row stride of C
    activation: number, // 0 none, 1 ReLU, 2 GELU (erf), 3 GELU (tanh)
    residual: number,   // f32 [m, n] added after the activation, or 0; may equal c (ldr = ldc)
    ldr: number,        // row stride of the residual
  ): void;
  /** C = act(A·B + bias) + residual for a few rows, A in place, B as packed panels, B read once
   * per call for m <= 4 (decoding): the same bits as f32_gemm_packed in the baseline build; the
   * relaxed build's 1- and 2-row tiles multiply and add unfused, so they differ there from its
   * fused GEMM in each product's rounding. */
  f32_gemv_packed(
    m: number,          // rows of A and C (1..4 stream B once; more run 4 rows a pass)
    n: number,          // columns of C
    k: number,          // inner dimension
    a: number,          // f32 [m, k], read in place
    lda: number,        // row stride of A
    bp: number,         // B panels (f32_pack_panels_*), the panel holding column 0 of C
    bias: number,       // f32 [n] added to every row, or 0
    c: number,          // f32 [m, n] output, overlapping no input but the residual
    ldc: number,        // row stride of C
    activation: number, // 0 none, 1 ReLU, 2 GELU (erf), 3 GELU (tanh)
    residual: number,   // f32 [m, n] added after the activation, or 0; may equal c (ldr = ldc)
    ldr: number,        // row stride of the residual
  ): void;
  /** Quantizes panels p0..p1 of B = Wᵀ to int8 per output channel (i8-gemm/i8-gemm.ts layout). */
  i8_pack_panels_nt(
    n: number,   // rows of W = columns of B (output channels)
    k: number,   // columns of W = rows of B
    w: number,   // f32 [n, k] (nn.Linear weight [out, in]), every value finite
    ldw: number, // row stride of W
    bp: number,  // int8 panels output, panel 0 (i8PanelBytes(k) bytes each)
    p0: number,  // first panel
    p1: number,  // one past the last panel
  ): void;
  /** Quantizes panels p0..p1 of B[k, n] to int8 per column: i8_pack_panels_nt's bits for Bᵀ. */
  i8_pack_panels_nn(
    k: number,   // rows of B (input features)
    n: number,   // columns of B (output channels)
    b: number,   // f32 [k, n] (a Conv1D weight [in, out]), every value finite
    ldb: number, // row stride of B
    bp: number,  // int8 panels output, panel 0 (i8PanelBytes(k) bytes each)
    p0: number,  // first panel
    p1: number,  // one past the last panel
  ): void;
  /** Packs panels p0..p1 of B from int8 codes and scales already quantized per output channel
   * (an int8 safetensors file): the panels i8_pack_panels_nt makes from the weight they came from. */
  i8_pack_panels_codes(
    n: number,   // output channels
    k: number,   // reduction length
    q: number,   // i8 codes, each in -127..127: channel j, index kk at q + j·qsn + kk·qsk
    qsn: number, // channel stride in bytes (nn.Linear [out, in]: k; Conv1D [in, out]: 1)
    qsk: number, // reduction stride in bytes (nn.Linear: 1; Conv1D: n)
    s: number,   // f32 [n] per-channel scales, finite and >= 0
    bp: number,  // int8 panels output, panel 0 (i8PanelBytes(k) bytes each)
    p0: number,  // first panel
    p1: number,  // one past the last panel
  ): void;
  /** Quantizes strips s0..s1 of A per row (scale and zero point) for the int8 GEMM. */
  i8_quantize_rows(
    m: number,   // rows of A
    k: number,   // columns of A
    a: number,   // f32 [m, k]
    lda: number, // row stride of A
    ap: number,  // int8 strips output, strip 0 (i8StripBytes(k) bytes each)
    s0: number,  // first strip
    s1: number,  // one past the last strip
    compact?: number, // 1 with m <= 2: the one compact strip that only i8_gemv reads (0: 4-row strips)
  ): void;
  /** How this engine computes i32x4.relaxed_dot_i8x16_i7x16_add_s, where the int8 GEMM can use
   * it: 1 exact with b's bytes unsigned (u8·s8 sums, no saturation: x64 AVX-VNNI), 2 exact with
   * them signed (Arm, x64 AVX-VNNI-INT8), else 0; always 0 in the baseline build. Checked on
   * first operands in −127..127 (the GEMM's weight codes) only. */
  i8_relaxed_dot_exact(
    x: number, // 0 (keeps the probe's operands unknown to the optimiser)
  ): number;
  /** Sets this instance's int8 GEMM mode; returns the mode in effect (0 in the baseline build).
   * Every instance on one memory must run the same mode. */
  i8_set_relaxed_dot(
    mode: number, // 0: i16 pairs, dot_i16x8_s; 1 or 2 (the probe's answer): strips as quads, products by the relaxed dot
  ): number;
  /** C = act(dequant(A·B) + bias) + residual from int8 strips and panels (exact i32 sums). */
  i8_gemm_packed(
    m: number,          // rows of C
    n: number,          // columns of C
    k: number,          // inner dimension (<= 65536)
    ap: number,         // A strips (i8_quantize_rows), the strip holding row 0 of C
    bp: number,         // B panels (i8_pack_panels_nt), the panel holding column 0 of C
    bias: number,       // f32 [n] added to every row, or 0
    c: number,          // f32 [m, n] output, overlapping no input but the residual
    ldc: number,        // row stride of C
    activation: number, // 0 none, 1 ReLU, 2 GELU (erf), 3 GELU (tanh)
    residual: number,   // f32 [m, n] added after the activation, or 0; may equal c (ldr = ldc)
    ldr: number,        // row stride of the residual
    scratch: number,    // 0, or i8WideScratchBytes(k) bytes of this call's own: panels widened there once (same bits)
  ): void;
  /** C = act(dequant(A·B) + bias) + residual for a few rows from int8 strips and panels: the
   * same bits as i8_gemm_packed, B read once per call for m <= 4 (decoding). */
  i8_gemv(
    m: number,          // rows of C (1..4 stream B once; more run one strip a pass)
    n: number,          // columns of C
    k: number,          // inner dimension (<= 65536)
    ap: number,         // A strips (i8_quantize_rows), the strip holding row 0 of C
    bp: number,         // B panels (i8_pack_panels_nt), the panel holding column 0 of C
    bias: number,       // f32 [n] added to every row, or 0
    c: number,          // f32 [m, n] output, overlapping no input but the residual
    ldc: number,        // row stride of C
    activation: number, // 0 none, 1 ReLU, 2 GELU (erf), 3 GELU (tanh)
    residual: number,   // f32 [m, n] added after the activation, or 0; may equal c (ldr = ldc)
    ldr: number,        // row stride of the residual
    compact?: number,   // 1 with m <= 2: ap is the compact strip i8_quantize_rows wrote (same bits)
  ): void;
  /** y = F.layer_norm(x + residual)·weight + bias, per row. */
  f32_layer_norm(
    rows: number,     // rows
    dim: number,      // elements per row (normalised together)
    x: number,        // f32 [rows, dim]
    ldx: number,      // row stride of x
    residual: number, // f32 [rows, dim] added to x first, or 0
    ldr: number,      // row stride of the residual
    weight: number,   // f32 [dim] or 0 (ones)
    bias: number,     // f32 [dim] or 0 (zeros)
    eps: number,      // added to the (biased) variance
    y: number,        // f32 [rows, dim] output; may equal x or the residual (same stride)
    ldy: number,      // row stride of y
  ): void;
  /** y = F.gelu(x), elementwise. */
  f32_gelu(
    n: number,           // elements
    x: number,           // f32 [n]
    y: number,           // f32 [n] output; may equal x
    approximate: number, // 0: exact (erf), 1: tanh
  ): void;
  /** y = softmax(x·scale + mask) along each row; a row of -inf gives zeros. */
  f32_softmax_scaled(
    rows: number,     // rows
    cols: number,     // elements per row
    x: number,        // f32 [rows, cols]
    ldx: number,      // row stride of x
    scale: number,    // multiplies x before the mask
    addMask: number,  // f32 [rows, ldAdd] added, or 0
    ldAdd: number,    // row stride of addMask (0: one row for every row)
    boolMask: number, // u8 [rows, ldBool], 1 = keep, 0 = masked, or 0
    ldBool: number,   // row stride of boolMask (0: one row for every row)
    y: number,        // f32 [rows, cols] output; may equal x (ldy = ldx)
    ldy: number,      // row stride of y
  ): void;
  /** Row softmax (a row of -Infinity gives zeros). */
  f32_softmax(
    rows: number, // rows
    cols: number, // elements per row
    x: number,    // f32 [rows, cols] input
    ldx: number,  // row stride of x
    y: number,    // f32 [rows, cols] output; may equal x (with ldy = ldx)
    ldy: number,  // row stride of y
  ): void;
  /** Fused masked attention of query rows q0..q1, keys k0..k1 of one (batch, head) slice. */
  f32_attention(
    q: number,          // f32 [seqQ, headDim], row 0 of the slice
    ldq: number,        // row stride of q
    k: number,          // f32 [seqK, headDim], row 0 of the slice
    ldk: number,        // row stride of k
    v: number,          // f32 [seqK, headDimV], row 0 of the slice
    ldv: number,        // row stride of v
    o: number,          // f32 [seqQ, headDimV] output, row 0 of the slice
    ldo: number,        // row stride of o
    headDim: number,    // q/k features
    headDimV: number,   // v/o features
    q0: number,         // first query row
    q1: number,         // one past the last query row
    k0: number,         // first key
    k1: number,         // one past the last key
    scale: number,      // logit scale
    causal: number,     // 1: key j > query i is masked
    addMask: number,    // f32 [seqQ, ldAdd] added to the logits, or 0
    ldAdd: number,      // row stride of addMask (0: one row for every query)
    boolMask: number,   // u8 [seqQ, ldBool], or 0
    ldBool: number,     // row stride of boolMask
    boolInvert: number, // 0: non-zero = attend (SDPA); 1: non-zero = masked (MultiheadAttention)
    keyMask: number,    // u8 [seqK] per-key flags (key padding), or 0
    keyInvert: number,  // as boolInvert, for keyMask
    validLens: number,  // i32 valid key count per query row, or 0
    ldValid: number,    // stride of validLens between query rows (0: one length for all)
    weights: number,    // f32 [seqQ, ldw] normalised weights output, or 0
    ldw: number,        // row stride of weights
    scratch: number,    // ATTENTION_SCRATCH_BYTES bytes owned by this call
    stats: number,      // f32 [seqQ, 2] (m, l) per row, or 0; when given, o is left unnormalised
    allKeys: number,    // i32 flag or 0: when the flag is non-zero, no key block is skipped
  ): void;
  /** One query row against keys k0..k1 for every head at once (decoding over a cache whose rows
   * hold the heads side by side); writes every head's O row, or its unnormalised part and (m, l). */
  f32_attention_decode(
    heads: number,      // heads, all computed by this call
    q: number,          // f32: head 0's query row (headDim values)
    qHead: number,      // elements from one head's query row to the next
    k: number,          // f32: key 0 of head 0 (headDim values)
    ldk: number,        // elements from one key row to the next
    kHead: number,      // elements from one head's part of a key row to the next
    v: number,          // f32: value 0 of head 0 (headDimV values)
    ldv: number,        // elements from one value row to the next
    vHead: number,      // elements from one head's part of a value row to the next
    o: number,          // f32: head 0's output row (headDimV values); overlaps no input
    oHead: number,      // elements from one head's output row to the next
    headDim: number,    // q/k features
    headDimV: number,   // v/o features
    k0: number,         // first key
    k1: number,         // one past the last key
    scale: number,      // logit scale
    addMask: number,    // f32 [seqK] added to every head's logits (key j at index j), or 0
    keyMask: number,    // u8 [seqK] per-key flags (key padding), or 0
    keyInvert: number,  // 0: non-zero = attend; 1: non-zero = masked
    scratch: number,    // heads·(ceil4(k1 - k0) + headDimV + 1) f32, at most ATTENTION_SCRATCH_BYTES
    stats: number,      // f32 (m, l) of head 0, or 0; when given, o is left unnormalised
    statsHead: number,  // elements from one head's (m, l) to the next
  ): void;
  /** flag = 1 if the slice holds a NaN or ±inf in K or V at a key it may skip, in a query row that
   * skips keys, or a NaN or +inf in its float mask past a row's limit, else 0 (decides allKeys). */
  f32_attention_nonfinite(
    q: number,          // f32 [seqQ, headDim], row 0 of the slice
    ldq: number,        // row stride of q
    k: number,          // f32 [seqK, headDim], row 0 of the slice
    ldk: number,        // row stride of k
    headDim: number,    // k features
    v: number,          // f32 [seqK, headDimV], row 0 of the slice
    ldv: number,        // row stride of v
    headDimV: number,   // v features
    seqQ: number,       // query rows (their limits decide which keys may be skipped)
    seqK: number,       // keys
    causal: number,     // 1: key j > query i may be skipped
    validLens: number,  // i32 limits of the slice's batch entry, or 0
    ldValid: number,    // stride of validLens per query row (0: one for every row)
    addMask: number,    // f32 [seqQ, ldAdd] of the slice, or 0
    ldAdd: number,      // row stride of addMask (0: one row for every query)
    flag: number,       // i32 out
  ): void;
  /** Merges key-split partial attentions (f32_attention with stats) into o. */
  f32_attention_combine(
    parts: number,       // key ranges
    q0: number,          // first query row
    q1: number,          // one past the last query row
    headDimV: number,    // o features
    partO: number,       // f32: part 0's unnormalised O, row 0
    ldPartO: number,     // row stride of each part's O
    partStride: number,  // elements from one part's O to the next
    stats: number,       // f32: part 0's (m, l) pairs, row 0
    statsStride: number, // elements from one part's stats to the next
    o: number,           // f32 [seqQ, headDimV] output, row 0
    ldo: number,         // row stride of o
  ): void;
  /** y = x·s, elementwise (matmul's alpha). */
  f32_scale(
    n: number, // elements
    x: number, // f32 [n]
    y: number, // f32 [n] output; may equal x
    s: number, // the factor
  ): void;
  /** y = mean over `count` rows of x (weights averaged over heads). */
  f32_mean_rows(
    count: number,  // rows averaged
    n: number,      // elements per row
    x: number,      // f32 rows, the first at x
    stride: number, // elements between consecutive rows
    y: number,      // f32 [n] output, overlapping no row of x
  ): void;
  readonly ALIGN: WebAssembly.Global;
  readonly GEMM_STRIP_ROWS: WebAssembly.Global;
  readonly GEMM_PANEL_COLS: WebAssembly.Global;
  readonly ATTENTION_QUERY_TILE: WebAssembly.Global;
  readonly ATTENTION_QUERY_CHUNK: WebAssembly.Global;
  readonly ATTENTION_KEY_BLOCK: WebAssembly.Global;
  readonly ATTENTION_SCRATCH_BYTES: WebAssembly.Global;
  readonly I8_GEMM_K_ALIGN: WebAssembly.Global;
  readonly I8_GEMM_STRIP_HEADER: WebAssembly.Global;
  readonly I8_GEMM_PANEL_HEADER: WebAssembly.Global;
  /** Largest activation code of the int8 GEMM (255). */
  readonly I8_GEMM_A_MAX: WebAssembly.Global;
  /** 1: relaxed-SIMD build. */
  readonly KERNEL_RELAXED_SIMD: WebAssembly.Global;
  /** 1: imports a shared memory. */
  readonly KERNEL_SHARED_MEMORY: WebAssembly.Global;
}
