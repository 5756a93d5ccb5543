import { CorruptFileError, KvqError, type RopeConfig } from '@kvq/core';
import type { GgufValue } from '../gguf/read-header.js';

/** The GGUF file holds a model architecture this decoder does not run. */
export class UnsupportedArchitectureError extends KvqError {
  constructor(what: string, architecture: string) {
    super(
      'INVALID_ARGUMENT',
      `${what}: general.architecture is "${architecture}", but the kvq reference decoder runs only ${SUPPORTED_ARCHITECTURES.join(', ')} (Llama-family decoders)`,
    );
  }
}

/** Architectures the reference decoder runs, with their RoPE style in llama.cpp. */
export const SUPPORTED_ARCHITECTURES = ['llama', 'qwen2'] as const;
const ROPE_STYLE: Record<string, RopeConfig['style']> = { llama: 'interleaved', qwen2: 'neox' };

/** Hyperparameters of a Llama-family decoder, read from GGUF metadata. */
export interface LlamaConfig {
  readonly architecture: string;
  /** general.name, or '' */
  readonly name: string;
  readonly layers: number;
  readonly hidden: number;
  readonly ffn: number;
  readonly queryHeads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly vocab: number;
  readonly contextLength: number;
  readonly rmsEps: number;
  /** RoPE as the GGUF weights expect it (llama: adjacent pairs; qwen2: rotate-half) */
  readonly rope: RopeConfig;
}

/** Reads and validates the decoder hyperparameters from GGUF metadata. */
export function readLlamaConfig(metadata: ReadonlyMap<string, GgufValue>, what = 'GGUF file'): LlamaConfig {
  const architecture = metadata.get('general.architecture');
  if (typeof architecture !== 'string')
    throw new CorruptFileError(what, 'metadata general.architecture is missing');
  if (!(SUPPORTED_ARCHITECTURES as readonly string[]).includes(architecture)) {
    throw new UnsupportedArchitectureError(what, architecture);
  }
  const num = (key: string, fallback?: number): number => {
    const v = metadata.get(`${architecture}.${key}`);
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new CorruptFileError(
        what,
        `metadata ${architecture}.${key} is ${v === undefined ? 'missing' : `not a number (${String(v)})`}`,
      );
    }
    return v;
  };
  const positive = (key: string, fallback?: number): number => {
    const v = num(key, fallback);
    if (!Number.isInteger(v) || v <= 0)
      throw new CorruptFileError(
        what,
        `metadata ${architecture}.${key} must be a positive integer, got ${v}`,
      );
    return v;
  };
  const hidden = positive('embedding_length');
  const queryHeads = positive('attention.head_count');
  const kvHeads = positive('attention.head_count_kv', queryHeads);
  const headDim = positive('attention.key_length', hidden / queryHeads);
  if (queryHeads % kvHeads !== 0) {
    throw new CorruptFileError(
      what,
      `attention.head_count ${queryHeads} is not a multiple of head_count_kv ${kvHeads}`,
    );
  }
  const valueLength = positive('attention.value_length', headDim);
  if (valueLength !== headDim) {
    throw new CorruptFileError(
      what,
      `attention.value_length ${valueLength} differs from key_length ${headDim} (not supported)`,
    );
  }
  const scalingType = metadata.get(`${architecture}.rope.scaling.type`);
  let scale = 1;
  if (scalingType === 'linear') scale = num('rope.scaling.factor');
  else if (scalingType !== undefined && scalingType !== 'none') {
    throw new CorruptFileError(
      what,
      `RoPE scaling "${String(scalingType)}" is not supported (only none and linear)`,
    );
  }
  const tokens = metadata.get('tokenizer.ggml.tokens');
  const vocab = positive('vocab_size', Array.isArray(tokens) ? tokens.length : undefined);
  const name = metadata.get('general.name');
  return {
    architecture,
    name: typeof name === 'string' ? name : '',
    layers: positive('block_count'),
    hidden,
    ffn: positive('feed_forward_length'),
    queryHeads,
    kvHeads,
    headDim,
    vocab,
    contextLength: positive('context_length'),
    rmsEps: num('attention.layer_norm_rms_epsilon'),
    rope: {
      theta: num('rope.freq_base', 10000),
      dims: positive('rope.dimension_count', headDim),
      style: ROPE_STYLE[architecture]!,
      scale,
    },
  };
}
