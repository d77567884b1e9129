// Hugging Face's activation names (ACT2FN, transformers' activations.py) that config.json files
// give GPT-2's activation_function and BERT's hidden_act, mapped to the GEMM epilogues that
// compute them. Only names whose math an epilogue runs are taken; the others are refused by name.
import { quote, rangeError, typeError } from '../errors.js';
import { ACTIVATION } from '../parallel/phases.js';

/** Each name's epilogue:
 * - erf GELU x·Φ(x): 'gelu' (GELUActivation, F.gelu) and 'gelu_python' (the same, written out);
 * - tanh GELU x/2·(1 + tanh(√(2/π)(x + 0.044715x³))): 'gelu_new', 'gelu_pytorch_tanh',
 *   'gelu_fast', 'gelu_accurate' (each written its own way in activations.py);
 * - 'relu'. */
const EPILOGUES = new Map<string, number>([
  ['gelu', ACTIVATION.gelu], ['gelu_python', ACTIVATION.gelu],
  ['gelu_new', ACTIVATION.geluTanh], ['gelu_pytorch_tanh', ACTIVATION.geluTanh],
  ['gelu_fast', ACTIVATION.geluTanh], ['gelu_accurate', ACTIVATION.geluTanh],
  ['relu', ACTIVATION.relu],
]);

/** The names, for messages. */
export const HF_ACTIVATION_NAMES = [...EPILOGUES.keys()].map((name) => JSON.stringify(name)).join(', ');

/** The ACTIVATION code of config key `name` holding `value` (an ACT2FN name); a TypeError for a
 * value that is not a string, a RangeError for a name no epilogue computes. */
export function hfActivation(op: string, name: string, value: unknown): number {
  if (typeof value !== 'string') throw typeError(op, name, `a string (${HF_ACTIVATION_NAMES})`, value);
  const code = EPILOGUES.get(value);
  if (code === undefined) throw rangeError(op, name, `must be one of ${HF_ACTIVATION_NAMES} (the activations implemented), got ${quote(value)}`);
  return code;
}
