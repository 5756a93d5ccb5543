import { InvalidArgumentError, type KVLayout, type RopeConfig } from '@kvq/core';

/** The fields of a transformers.js (Hugging Face) Llama-family `config` that the KV cache depends on. */
export interface LlamaLikeConfig {
  readonly num_hidden_layers?: number;
  readonly num_attention_heads?: number;
  readonly num_key_value_heads?: number;
  readonly hidden_size?: number;
  readonly head_dim?: number;
  readonly rope_theta?: number;
  readonly rope_scaling?: {
    readonly type?: string;
    readonly rope_type?: string;
    readonly factor?: number;
  } | null;
  /** transformers 5.x configs: `{ rope_theta, rope_type, factor? }` instead of the two fields above */
  readonly rope_parameters?: {
    readonly rope_theta?: number;
    readonly rope_type?: string;
    readonly factor?: number;
  } | null;
  readonly partial_rotary_factor?: number;
}

/** A model's KV layout and the RoPE its ONNX graph applies to keys (Hugging Face rotate-half). */
export interface TransformersKvModel {
  readonly layout: KVLayout;
  /** RoPE of the keys in `past_key_values` (style `'neox'`: pairs (i, i + dims/2)) */
  readonly rope: RopeConfig;
}

const int = (name: string, v: unknown): number => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0)
    throw new InvalidArgumentError(`model config: ${name} must be a positive integer, got ${String(v)}`);
  return v;
};

/**
 * Reads the KV layout and key RoPE from a transformers.js model config (`model.config`): layers,
 * query/KV heads, head dim, `rope_theta`, linear `rope_scaling`. Other RoPE scalings (llama3, YaRN,
 * dynamic) are refused with an `InvalidArgumentError`, since undoing them exactly is not implemented.
 */
export function kvModelFromConfig(config: LlamaLikeConfig): TransformersKvModel {
  const layers = int('num_hidden_layers', config.num_hidden_layers);
  const queryHeads = int('num_attention_heads', config.num_attention_heads);
  const kvHeads = int('num_key_value_heads', config.num_key_value_heads ?? queryHeads);
  const headDim = int(
    'head_dim',
    config.head_dim ?? (config.hidden_size !== undefined ? config.hidden_size / queryHeads : undefined),
  );
  if (queryHeads % kvHeads !== 0)
    throw new InvalidArgumentError(
      `model config: num_attention_heads (${queryHeads}) must be a multiple of num_key_value_heads (${kvHeads})`,
    );
  const rp = config.rope_parameters ?? undefined;
  const theta = rp?.rope_theta ?? config.rope_theta ?? 10000;
  if (!(typeof theta === 'number' && theta > 0))
    throw new InvalidArgumentError(
      `model config: rope_theta must be a positive number, got ${String(theta)}`,
    );
  if (config.partial_rotary_factor !== undefined && config.partial_rotary_factor !== 1)
    throw new InvalidArgumentError(
      `model config: partial_rotary_factor ${config.partial_rotary_factor} is not supported (keys must be fully rotated)`,
    );
  const dims = headDim;
  let scale = 1;
  const rs: { type?: string; rope_type?: string; factor?: number } | undefined =
    config.rope_scaling ?? (rp && rp.rope_type !== undefined && rp.rope_type !== 'default' ? rp : undefined);
  if (rs) {
    const kind = rs.rope_type ?? rs.type;
    if (kind !== 'linear' || !(typeof rs.factor === 'number' && rs.factor > 0))
      throw new InvalidArgumentError(
        `model config: rope_scaling ${JSON.stringify(rs)} is not supported (only linear scaling can be undone here)`,
      );
    scale = rs.factor;
  }
  return {
    layout: { layers, queryHeads, kvHeads, headDim },
    rope: { theta, dims, style: 'neox', ...(scale !== 1 ? { scale } : {}) },
  };
}
