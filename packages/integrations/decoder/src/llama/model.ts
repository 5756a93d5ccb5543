import { CorruptFileError, InvalidArgumentError, type KVCache, type KVLayout } from '@kvq/core';
import type { GgufFile } from '../gguf/read-tensors.js';
import { attendThroughCache } from '../integration/attend-through-cache.js';
import { type DenseOps, cpuDenseOps } from '../kernels/dense-ops.js';
import { matmulTransposed } from '../kernels/matmul.js';
import { RopeTable } from '../kernels/rope.js';
import { WasmMatmul } from '../kernels/wasm-matmul.js';
import { type LlamaConfig, readLlamaConfig } from './config.js';
import { type LlamaWeights, readLlamaWeights } from './weights.js';

/** Options of {@link LlamaModel.fromGguf}. */
export interface LoadOptions {
  /** dense ops (a kvq Backend); default: the decoder's CPU path */
  readonly ops?: DenseOps;
  /**
   * use the WebAssembly SIMD matmul (weights are loaded into its memory) when the runtime has it
   * (default true); false = the JavaScript tiled matmul
   */
  readonly simd?: boolean;
}

/** Which rows of logits {@link LlamaModel.forward} returns. */
export type LogitsMode = 'all' | 'last' | 'none';

/** Options of {@link LlamaModel.forward}. */
export interface ForwardOptions {
  /** logits of every token (`[tokens, vocab]`), of the last one (`[1, vocab]`) or none; default 'all' */
  readonly logits?: LogitsMode;
  /**
   * Absolute position of the first token. Default: `cache.length` (0 without a cache). Without a
   * cache the tokens attend only to each other.
   */
  readonly start?: number;
  /** Called with each layer's pre-RoPE keys and values `[tokens, kvHeads, headDim]` (calibration). */
  readonly onKV?: (layer: number, keys: Float32Array, values: Float32Array, tokens: number) => void;
}

/**
 * A Llama-family decoder (RMSNorm, RoPE, GQA, SwiGLU, tied or separate head) over fp32 weights.
 * Dense ops (linear, RMSNorm, SwiGLU) go through {@link DenseOps} (a kvq Backend or the decoder's
 * CPU path); attention reads earlier tokens' K/V from a {@link KVCache}.
 *
 * Each call of {@link forward} processes a chunk: the chunk's own keys/values are used in full
 * precision, earlier tokens are read back from the cache (`reconstruct`, keys pre-RoPE, RoPE
 * re-applied here), and the chunk's pre-RoPE keys and values are appended to the cache afterwards
 * — the AQUA-KV evaluation semantics.
 */
export class LlamaModel {
  readonly #rope: RopeTable;
  readonly #matmul: typeof matmulTransposed;
  readonly ops: DenseOps;

  /**
   * @param simd the SIMD kernel (its memory should hold the weights); also used for attention
   */
  constructor(
    readonly config: LlamaConfig,
    readonly weights: LlamaWeights,
    ops?: DenseOps,
    readonly simd?: WasmMatmul,
  ) {
    this.#rope = new RopeTable(config.rope, config.headDim);
    this.ops = ops ?? cpuDenseOps(simd);
    this.#matmul = simd ? simd.matmul.bind(simd) : matmulTransposed;
  }

  /** Loads config and weights from a parsed GGUF file. */
  static fromGguf(file: GgufFile, opts: LoadOptions = {}): LlamaModel {
    const config = readLlamaConfig(file.metadata, file.what);
    if (file.has('rope_freqs.weight')) {
      throw new CorruptFileError(
        file.what,
        'tensor rope_freqs.weight (Llama 3.1-style RoPE frequency scaling) is not supported by the kvq reference decoder',
      );
    }
    let simd: WasmMatmul | undefined;
    if ((opts.simd ?? true) && WasmMatmul.available()) {
      const floats = file.tensorNames().reduce((a, n) => a + Math.ceil(file.numel(n) / 4) * 4, 0);
      simd = new WasmMatmul(floats);
    }
    const weights = readLlamaWeights(file, config, simd ? (n) => simd.allocWeights(n) : undefined);
    return new LlamaModel(config, weights, opts.ops, simd);
  }

  /** The KV layout of this model, for creating caches. */
  get layout(): KVLayout {
    const c = this.config;
    return { layers: c.layers, queryHeads: c.queryHeads, kvHeads: c.kvHeads, headDim: c.headDim };
  }

  /**
   * Runs `tokens` through the decoder, reading earlier K/V from `cache` and appending the chunk's.
   * Returns logits `[rows, vocab]` (see {@link ForwardOptions.logits}).
   */
  async forward(
    tokens: ArrayLike<number>,
    cache: KVCache | null,
    opts: ForwardOptions = {},
  ): Promise<Float32Array> {
    const c = this.config;
    const w = this.weights;
    const ops = this.ops;
    const T = tokens.length;
    if (T === 0) throw new InvalidArgumentError('forward: no tokens');
    const start = opts.start ?? cache?.length ?? 0;
    if (cache && start !== cache.length) {
      throw new InvalidArgumentError(`forward: start ${start} must equal the cache length ${cache.length}`);
    }
    const { hidden, queryHeads: qH, kvHeads: kvH, headDim: hd } = c;
    const qDim = qH * hd;
    const kvDim = kvH * hd;
    const x = new Float32Array(T * hidden);
    for (let t = 0; t < T; t++) {
      const id = tokens[t]!;
      if (!Number.isInteger(id) || id < 0 || id >= c.vocab) {
        throw new InvalidArgumentError(
          `forward: token id ${id} at index ${t} is outside the vocabulary (0..${c.vocab - 1})`,
        );
      }
      x.set(w.tokenEmbedding.subarray(id * hidden, (id + 1) * hidden), t * hidden);
    }
    for (let l = 0; l < c.layers; l++) {
      const lw = w.layers[l]!;
      const h = await ops.rmsNorm(x, T, hidden, lw.attnNorm, c.rmsEps);
      const q = await ops.linear(h, T, lw.wq, hidden, qDim, lw.bq);
      const k = await ops.linear(h, T, lw.wk, hidden, kvDim, lw.bk);
      const v = await ops.linear(h, T, lw.wv, hidden, kvDim, lw.bv);
      opts.onKV?.(l, k, v, T);
      const attn = attendThroughCache({
        cache,
        layout: this.layout,
        rope: this.#rope,
        layer: l,
        query: q,
        keys: k,
        values: v,
        tokens: T,
        start,
        matmul: this.#matmul,
      });
      const o = await ops.linear(attn, T, lw.wo, qDim, hidden);
      for (let i = 0; i < x.length; i++) x[i] += o[i]!;
      const h2 = await ops.rmsNorm(x, T, hidden, lw.ffnNorm, c.rmsEps);
      const gate = await ops.linear(h2, T, lw.wGate, hidden, c.ffn);
      const up = await ops.linear(h2, T, lw.wUp, hidden, c.ffn);
      const act = await ops.swiglu(gate, up);
      const down = await ops.linear(act, T, lw.wDown, c.ffn, hidden);
      for (let i = 0; i < x.length; i++) x[i] += down[i]!;
    }
    const mode = opts.logits ?? 'all';
    if (mode === 'none') return new Float32Array(0);
    const rows = mode === 'all' ? T : 1;
    const last = mode === 'all' ? x : x.subarray((T - 1) * hidden);
    const normed = await ops.rmsNorm(last, rows, hidden, w.outputNorm, c.rmsEps);
    return ops.linear(normed, rows, w.output, hidden, c.vocab);
  }
}
