import type { GgufFile } from '../gguf/read-tensors.js';
import type { LlamaConfig } from './config.js';

/** fp32 weights of one decoder layer; matrices row-major `[outDim, inDim]`. */
export interface LlamaLayerWeights {
  readonly attnNorm: Float32Array;
  readonly wq: Float32Array;
  readonly wk: Float32Array;
  readonly wv: Float32Array;
  /** q/k/v biases (Qwen2); absent for Llama */
  readonly bq?: Float32Array;
  readonly bk?: Float32Array;
  readonly bv?: Float32Array;
  readonly wo: Float32Array;
  readonly ffnNorm: Float32Array;
  readonly wGate: Float32Array;
  readonly wUp: Float32Array;
  readonly wDown: Float32Array;
}

/** All weights of a Llama-family decoder, dequantized to fp32. */
export interface LlamaWeights {
  /** `[vocab, hidden]` */
  readonly tokenEmbedding: Float32Array;
  readonly layers: readonly LlamaLayerWeights[];
  readonly outputNorm: Float32Array;
  /** `[vocab, hidden]`; the same array as `tokenEmbedding` when the head is tied */
  readonly output: Float32Array;
  readonly tiedOutput: boolean;
}

/**
 * Reads (and dequantizes) every weight, checking each tensor's shape against `cfg`. `alloc`
 * provides each tensor's fp32 array (e.g. inside a WebAssembly memory).
 */
export function readLlamaWeights(
  file: GgufFile,
  cfg: LlamaConfig,
  alloc?: (n: number) => Float32Array,
): LlamaWeights {
  const { hidden, ffn, vocab, queryHeads, kvHeads, headDim } = cfg;
  const q = queryHeads * headDim;
  const kv = kvHeads * headDim;
  const t = (name: string, shape: number[]) => file.tensor(name, shape, alloc).data;
  const opt = (name: string, shape: number[]) => (file.has(name) ? t(name, shape) : undefined);
  const layers: LlamaLayerWeights[] = [];
  for (let l = 0; l < cfg.layers; l++) {
    const p = `blk.${l}.`;
    layers.push({
      attnNorm: t(`${p}attn_norm.weight`, [hidden]),
      wq: t(`${p}attn_q.weight`, [q, hidden]),
      wk: t(`${p}attn_k.weight`, [kv, hidden]),
      wv: t(`${p}attn_v.weight`, [kv, hidden]),
      bq: opt(`${p}attn_q.bias`, [q]),
      bk: opt(`${p}attn_k.bias`, [kv]),
      bv: opt(`${p}attn_v.bias`, [kv]),
      wo: t(`${p}attn_output.weight`, [hidden, q]),
      ffnNorm: t(`${p}ffn_norm.weight`, [hidden]),
      wGate: t(`${p}ffn_gate.weight`, [ffn, hidden]),
      wUp: t(`${p}ffn_up.weight`, [ffn, hidden]),
      wDown: t(`${p}ffn_down.weight`, [hidden, ffn]),
    });
  }
  const tokenEmbedding = t('token_embd.weight', [vocab, hidden]);
  const tiedOutput = !file.has('output.weight');
  return {
    tokenEmbedding,
    layers,
    outputNorm: t('output_norm.weight', [hidden]),
    output: tiedOutput ? tokenEmbedding : t('output.weight', [vocab, hidden]),
    tiedOutput,
  };
}
