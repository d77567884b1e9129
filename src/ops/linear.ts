// engine.linear: nn.Linear, y = x·Wᵀ + b, with torch's [out, in] weight. The weight is packed
// into GEMM panels once, when the module is created, and stays resident; a forward packs x
// into strips and runs the GEMM (the layers add their activation or residual as its epilogue).
// With quantize 'int8' the panels hold int8 codes and per-channel scales (assembly/i8-gemm/),
// and a forward quantizes x per row into int8 strips instead of packing it (then, for up to 4
// rows, the int8 GEMV streams the panels once instead of the GEMM).
import type { EngineTensor, Linear, LinearConfig, LinearForwardOptions } from '../types.js';
import type { Arena } from '../wasm/arena.js';
import type { KernelExports } from '../wasm/abi.js';
import {
  gemmPackedPhase, gemvPackedPhase, GEMV_MAX_ROWS, I8_GEMV_MAX_ROWS, i8PanelsBytes, i8ProjectionPhases, i8StripsBytes,
  packedPanelsLength, packedRowsLength, packRowsPhase, projectionPhases, scalePhase, scratchSlots, type GemmExtras, type Phase,
} from '../parallel/phases.js';
import { GEMM_PANEL_COLS, SCRATCH_SLOT_STRIDE } from '../wasm/layout.js';
import { dim, elements, flag, int8Weight, keysOf, options, quantizeOption } from '../validate.js';
import { stateError } from '../errors.js';
import type { BuiltCall } from './attention.js';
import { int8Codes, keepPacked, ownCodes, ModuleWeights, readStateDict, type Int8Codes, type ModuleHost, type ParamSpec, type Resident } from './modules.js';
import { collectOutput, outputLengths, placeOutput, planOutput } from './outputs.js';
import { placeInput, tensorInput, writeInput, type TensorRegistry } from './tensor.js';
import { asyncDisposer } from '../disposable.js';

const OP = 'linear';
const CONFIG_KEYS = keysOf<LinearConfig>({ inFeatures: true, outFeatures: true, bias: true, weights: true, quantize: true });
const FORWARD_KEYS = keysOf<LinearForwardOptions>({ rows: true, out: true });

/** A Linear's weights: W as B = Wᵀ panels [ceil(out/8), in, 8] f32 (or, quantized, int8
 * panels of i8PanelsBytes(out, in) bytes), then the bias [out] f32. A quantized weight must
 * have been checked with int8Weight (finite, in <= 65536); one read from an int8 file
 * (loadSafetensors) is packed from its codes and scales, not quantized again. */
export class LinearParams implements Resident {
  resident = 0;
  readonly hasBias: boolean;
  private raw: { weight: Float32Array; bias?: Float32Array; codes?: Int8Codes } | undefined;
  constructor(
    readonly inFeatures: number, readonly outFeatures: number, weight: Float32Array, bias?: Float32Array,
    readonly quantize?: 'int8',
  ) {
    const codes = quantize === 'int8' ? int8Codes(weight, outFeatures, inFeatures) : undefined;
    // The caller's arrays until the upload: torch modules own their parameters, so own() copies
    // them when the upload is queued (ModuleWeights).
    this.raw = { weight: codes ? new Float32Array(0) : weight, bias, codes };
    this.hasBias = bias !== undefined;
  }
  own(): void {
    const raw = this.raw;
    if (raw) this.raw = { weight: raw.weight.slice(), bias: raw.bias?.slice(), codes: ownCodes(raw.codes) };
  }
  /** Elements (f32 slots) of the packed weight (the bias follows; int8 panels are whole 32 bytes). */
  get biasOffset(): number {
    return this.quantize === 'int8' ? i8PanelsBytes(this.outFeatures, this.inFeatures) / 4
      : packedPanelsLength(this.inFeatures, this.outFeatures);
  }
  get bytes(): number {
    return (this.biasOffset + (this.hasBias ? this.outFeatures : 0)) * 4;
  }
  /** Byte address of the panels (once resident). */
  get panels(): number {
    return this.resident;
  }
  /** Byte address of the bias (0: none). */
  get bias(): number {
    return this.hasBias ? this.resident + this.biasOffset * 4 : 0;
  }
  upload(arena: Arena, kernels: KernelExports): void {
    const raw = this.raw;
    if (!raw) throw stateError('the weights were already uploaded');
    const { inFeatures: k, outFeatures: n } = this;
    const pack = this.quantize === 'int8' ? kernels.i8_pack_panels_nt : kernels.f32_pack_panels_nt;
    const panels = Math.ceil(n / GEMM_PANEL_COLS);
    const ptr = keepPacked(arena, this.biasOffset + (raw.bias ? n : 0), raw.weight,
      (staging, block, [codes]) => codes
        ? kernels.i8_pack_panels_codes(n, k, codes.q, k, 1, codes.s, block, 0, panels)
        : pack(n, k, staging, k, block, 0, panels),
      raw.bias ? [{ offset: this.biasOffset, data: raw.bias }] : [], raw.codes ? [raw.codes] : []);
    this.resident = ptr;
    this.raw = undefined;
  }
  release(arena: Arena): void {
    if (this.resident !== 0) arena.release(this.resident);
    this.resident = 0;
  }
}

/** Floats (f32 slots) of the strips a linear of `rows` rows packs (or quantizes) its input into. */
export const linearStripsLength = (p: LinearParams, rows: number): number =>
  p.quantize === 'int8' ? i8StripsBytes(rows, p.inFeatures) / 4 : packedRowsLength(rows, p.inFeatures);

/** y[rows, out] (row stride ldy) = x[rows, in]·Wᵀ + b, then the epilogue: up to GEMV_MAX_ROWS
 * rows the GEMV over the packed weights, x read in place (`strips` unused; when x overlaps y, a
 * copy of x in `strips`), else x packed into `strips`, then the GEMM (projectionPhases: the same bits in the baseline build; the relaxed
 * build's GEMV rounds each product where its GEMM fuses); int8: quantize x into `strips`, then
 * the int8 GEMV (rows <= I8_GEMV_MAX_ROWS) or GEMM, which give the same bits. */
export function linearPhases(
  p: LinearParams, rows: number, x: number, ldx: number, strips: number, y: number, ldy: number,
  extras?: Pick<GemmExtras, 'activation' | 'residual' | 'ldr' | 'scratch'>,
): Phase[] {
  if (p.quantize === 'int8') {
    return i8ProjectionPhases(rows, p.outFeatures, p.inFeatures, x, ldx, strips, p.panels, p.bias, y, ldy, extras);
  }
  const { activation, residual, ldr } = extras ?? {};
  const f32Extras = { activation, residual, ldr };
  // The GEMV reads x in place while it writes y, so x and y must not overlap (one tensor given
  // as both x and out: Linear.forward): then the GEMV reads a copy of x's rows in `strips` (x·1:
  // exact), and the GEMM reads x from its strips, packed first, as it always does. So in place
  // gives the out-of-place kernel and bits, also in the relaxed build, where they differ.
  const overlap = x < y + rows * ldy * 4 && y < x + rows * ldx * 4;
  if (!overlap) return projectionPhases(rows, p.outFeatures, p.inFeatures, x, ldx, strips, p.panels, p.bias, y, ldy, f32Extras);
  if (rows <= GEMV_MAX_ROWS) {
    const k = p.inFeatures;
    const copies = Array.from({ length: rows }, (_, r) => scalePhase(k, x + r * ldx * 4, strips + r * k * 4, 1));
    return [...copies, gemvPackedPhase(rows, p.outFeatures, k, strips, k, p.panels, p.bias, y, ldy, f32Extras)];
  }
  return [
    packRowsPhase(rows, p.inFeatures, x, ldx, strips),
    gemmPackedPhase(rows, p.outFeatures, p.inFeatures, strips, p.panels, p.bias, y, ldy, f32Extras),
  ];
}

export function createLinear(config: unknown, host: ModuleHost, tensors: TensorRegistry): Linear {
  const c = options(OP, 'config', config, false, CONFIG_KEYS) as Partial<LinearConfig>;
  const inFeatures = dim(OP, 'config.inFeatures', c.inFeatures);
  const outFeatures = dim(OP, 'config.outFeatures', c.outFeatures);
  const bias = flag(OP, 'config.bias', c.bias, true);
  const quantize = quantizeOption(OP, 'config.quantize', c.quantize);
  elements(OP, 'config.weights.weight', outFeatures, inFeatures);
  const specs: ParamSpec[] = [{ key: 'weight', shape: [outFeatures, inFeatures], dims: '[outFeatures, inFeatures]', int8: true }];
  if (bias) specs.push({ key: 'bias', shape: [outFeatures], dims: '[outFeatures]' });
  const w = readStateDict(OP, 'config.weights', c.weights, specs, quantize);
  if (quantize) int8Weight(OP, 'config.weights["weight"]', w.weight, inFeatures, 'config.inFeatures');
  const params = new LinearParams(inFeatures, outFeatures, w.weight, w.bias, quantize);
  const weights = new ModuleWeights(host, [params], 'Linear');

  const module: Linear = Object.freeze({
    inFeatures,
    outFeatures,
    // One implementation for Linear's three signatures (the result is a new array, or `out`).
    forward: ((x: Float32Array | EngineTensor, opts: LinearForwardOptions): Promise<Float32Array | EngineTensor> => {
      const F = 'Linear.forward';
      let plan;
      try {
        const o = options(F, 'options', opts, false, FORWARD_KEYS) as Partial<LinearForwardOptions>;
        const rows = dim(F, 'options.rows', o.rows);
        plan = {
          rows,
          x: tensorInput(F, 'x', x, elements(F, 'x', rows, inFeatures), `rows·inFeatures = ${rows}·${inFeatures}`, tensors),
          out: planOutput(F, o.out, elements(F, 'output', rows, outFeatures), `rows·outFeatures = ${rows}·${outFeatures}`, tensors),
        };
      } catch (error) {
        return Promise.reject(error);
      }
      const { rows } = plan;
      return weights.call('forward', (arena: Arena, threads: number): BuiltCall<Float32Array | EngineTensor> => {
        const xPtr = placeInput(arena, plan.x, F);
        const strips = arena.place(linearStripsLength(params, rows) * 4);
        const yPtr = placeOutput(arena, plan.out, F);
        // int8 GEMM: one slot per thread to widen the weight codes in, as the other ops lend
        // theirs (i8GemmPhase uses them when a slot holds a widened panel).
        const scratch = params.quantize === 'int8' && rows > I8_GEMV_MAX_ROWS
          ? scratchSlots(arena.place(threads * SCRATCH_SLOT_STRIDE, 128)) : undefined;
        arena.commit();
        writeInput(arena, xPtr, plan.x);
        return {
          program: linearPhases(params, rows, xPtr, inFeatures, strips, yPtr, outFeatures, { scratch }),
          outputs: outputLengths(plan.out),
          collect: () => collectOutput(arena, plan.out, yPtr),
        };
      });
    }) as Linear['forward'],
    dispose: () => weights.dispose(module),
    ...asyncDisposer(() => weights.dispose(module)),
  });
  weights.track(module);
  return module;
}
