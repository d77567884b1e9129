// Random GPT2LMHeadModel state dicts for the GPT-2 tests (no prefix, lm_head tied to wte).
import { randomF32 } from './random.js';

/** GPT-2 weights of `config` from `seed`; `attnScale` spreads c_attn (the attention scores). */
export function randomGpt2(
  config: { vocab_size: number; n_positions: number; n_embd: number; n_layer: number }, seed: number, attnScale = 0.4,
): Record<string, Float32Array> {
  const { vocab_size: V, n_positions: N, n_embd: E } = config, I = 4 * E;
  const w = (n: number, scale = 0.2): Float32Array => randomF32(n, seed++, scale);
  const out: Record<string, Float32Array> = { 'wte.weight': w(V * E, 0.5), 'wpe.weight': w(N * E, 0.1), 'ln_f.weight': w(E).map((x) => 1 + x), 'ln_f.bias': w(E) };
  for (let i = 0; i < config.n_layer; i++) {
    const p = `h.${i}.`;
    Object.assign(out, {
      [`${p}ln_1.weight`]: w(E).map((x) => 1 + x), [`${p}ln_1.bias`]: w(E), [`${p}ln_2.weight`]: w(E).map((x) => 1 + x),
      [`${p}ln_2.bias`]: w(E), [`${p}attn.c_attn.weight`]: w(E * 3 * E, attnScale), [`${p}attn.c_attn.bias`]: w(3 * E),
      [`${p}attn.c_proj.weight`]: w(E * E), [`${p}attn.c_proj.bias`]: w(E), [`${p}mlp.c_fc.weight`]: w(E * I),
      [`${p}mlp.c_fc.bias`]: w(I), [`${p}mlp.c_proj.weight`]: w(I * E, 0.1), [`${p}mlp.c_proj.bias`]: w(E),
    });
  }
  return out;
}
