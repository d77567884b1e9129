// wasm-attention: transformer attention on WebAssembly SIMD with PyTorch semantics.
export { createEngine } from './engine.js';
export { positionalEncoding } from './ops/positional-encoding.js';
export { meanPool } from './models/pooling.js';
export {
  loadSafetensors, readSafetensors, writeSafetensors, safetensorsShapes, safetensorsQuantized,
} from './io/safetensors.js';
export type {
  SafetensorsBytes, SafetensorsDtype, SafetensorsFile, SafetensorsInput, SafetensorsQuantizedTensor, SafetensorsTensor,
  SafetensorsWeights,
} from './io/safetensors.js';
export { loadTokenizer } from './tokenizer/tokenizer.js';
export type {
  BatchEncoding, DecodeOptions, DecodeStream, EncodeBatchOptions, EncodeOptions, Encoding, Tokenizer, TokenizerConfig,
} from './tokenizer/tokenizer.js';
export { defaultQuantizeKey, quantizeInt8, quantizeSafetensors } from './io/quantize.js';
export type {
  Int8Weight, QuantizedTensorReport, QuantizeSafetensorsOptions, QuantizeSafetensorsResult,
} from './io/quantize.js';
export type {
  AttentionOptions, AttentionResult, Engine, EngineOptions, EngineTensor, Features, Int8Dot, KernelVariant,
  MultiHeadAttention, MultiHeadAttentionConfig, MultiHeadAttentionForwardOptions, MultiHeadAttentionWeights,
  GeluOptions, LayerNormOptions, MatmulOptions, SoftmaxOptions, TensorLike,
  Linear, LinearConfig, LinearForwardOptions, Quantize, Transformer, TransformerConfig, TransformerDecodeOptions,
  TransformerDecoderLayer, TransformerDecoderLayerConfig, TransformerDecoderLayerForwardOptions, TransformerEncodeOptions,
  TransformerEncoderLayer, TransformerEncoderLayerConfig, TransformerEncoderLayerForwardOptions,
  TransformerForwardOptions, TransformerLayerConfig,
  Gpt2, Gpt2Config, Gpt2ForwardOptions, Gpt2GenerateOptions, Gpt2Generation, Gpt2Options, Gpt2Output,
} from './types.js';
export type {
  BertConfig, BertForwardOptions, BertModel, BertModelOptions, BertOutput, IntegerArray, MeanPoolOptions,
  BertForSequenceClassification, BertClassifierOutput, BertForMaskedLM, BertMaskedLMOutput,
  BertForTokenClassification, BertTokenClassifierOutput, BertForQuestionAnswering, BertQuestionAnsweringOutput,
  BertHeadModel, BertLabelledHeadModel, BertLogitsOutput,
} from './types.js';
