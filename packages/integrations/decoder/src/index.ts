/**
 * @kvq/decoder — kvq for custom decoders, plus a reference Llama-family decoder that reads GGUF
 * (F32/F16/BF16/Q8_0/Q4_K/Q6_K weights), its tokenizers, and the perplexity evaluation of
 * compressed KV caches.
 * @packageDocumentation
 */
export { GGML_TYPE, ggmlTypeName } from './gguf/ggml-types.js';
export { readGgufHeader, type GgufHeader, type GgufTensorInfo, type GgufValue } from './gguf/read-header.js';
export {
  GgufFile,
  readGgufFile,
  UnsupportedTensorTypeError,
  type DequantizedTensor,
} from './gguf/read-tensors.js';
export { dequantF16, dequantBF16, dequantF32, halfTable } from './gguf/dequant-f16.js';
export { dequantQ8_0 } from './gguf/dequant-q8_0.js';
export { dequantQ4_K } from './gguf/dequant-q4_k.js';
export { dequantQ6_K } from './gguf/dequant-q6_k.js';
export {
  readLlamaConfig,
  UnsupportedArchitectureError,
  SUPPORTED_ARCHITECTURES,
  type LlamaConfig,
} from './llama/config.js';
export { readLlamaWeights, type LlamaWeights, type LlamaLayerWeights } from './llama/weights.js';
export { LlamaModel, type ForwardOptions, type LogitsMode } from './llama/model.js';
export { chunkAttention, type ChunkAttentionInput } from './llama/attention.js';
export { greedyGenerate, argmax, type GenerateOptions } from './llama/generate.js';
export { ArrayKVCache, ARRAY_CACHE_PRESET } from './cache/array-cache.js';
export { cpuDenseOps, type DenseOps } from './kernels/dense-ops.js';
export { matmulTransposed } from './kernels/matmul.js';
export { rmsNorm } from './kernels/rms-norm.js';
export { swiglu } from './kernels/swiglu.js';
export { RopeTable } from './kernels/rope.js';
export { tokenizerFromGguf } from './tokenizer/from-gguf.js';
export {
  ByteLevelBpeTokenizer,
  PRE_TOKENIZER_REGEX,
  type ByteLevelBpeVocab,
} from './tokenizer/byte-level-bpe.js';
export { SentencePieceBpeTokenizer, type SentencePieceVocab } from './tokenizer/sentencepiece-bpe.js';
export { TOKEN_TYPE, type Tokenizer, type EncodeOptions, type DecodeOptions } from './tokenizer/types.js';
export { nonOverlappingWindows } from './eval/windows.js';
export { logSoftmaxRows } from './eval/log-softmax.js';
export {
  evaluateCaches,
  type EvalCacheSpec,
  type EvalOptions,
  type EvalProgress,
  type EvalResult,
} from './eval/evaluate.js';
export { WasmMatmul } from './kernels/wasm-matmul.js';
export type { LoadOptions } from './llama/model.js';
export { attendThroughCache, type AttendInput } from './integration/attend-through-cache.js';
export { KvqAttention } from './integration/kvq-attention.js';
