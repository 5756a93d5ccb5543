import { applyRope } from '../backend/cpu/rope.js';
import type { RopeConfig } from '../backend/types.js';
import { DisposedError, InvalidArgumentError, ShapeError } from '../errors.js';
import { roundToFloat16 } from '../float16.js';
import { type KVLayout, channels, validateLayout } from '../layout.js';
import { aquaPredictor, nonePredictor } from '../predictors/aqua.js';
import type { AquaAdapters, Predictor } from '../predictors/types.js';
import { getPreset, layerQuantizers, presetBitsPerValue } from '../presets/registry.js';
import { createQuantizer } from '../quantizers/factory.js';
import type { QuantizerSpec } from '../quantizers/spec.js';
import type { Quantizer } from '../quantizers/types.js';
import { assertFinite } from '../tensor.js';
import { causalAttention } from './attention.js';
import type { StoredBlock } from './block.js';
import { GrowableF32 } from './growable.js';
import { encodeSnapshot, snapshotSize } from './snapshot.js';
import type { CacheOptions, CachePolicy, CacheStats, KVCache, PresetConfig } from './types.js';

/** Per-layer state: tokens [0, sink) fp16 sinks, then compressed blocks, then the fp16 buffer. */
export interface LayerState {
  length: number;
  sink: number;
  blocks: StoredBlock[];
  compressed: number;
  buffer: number;
  /** reconstruction of every token (pre-RoPE), `[length, C]`: fp16-rounded sinks/buffer, decoded blocks */
  reconK: GrowableF32;
  reconV: GrowableF32;
  /** QAQ: attention received per token (sum) and the number of observations since it was cached */
  score: Float64Array;
  seen: Uint32Array;
}

function newLayer(): LayerState {
  return {
    length: 0,
    sink: 0,
    blocks: [],
    compressed: 0,
    buffer: 0,
    reconK: new GrowableF32(),
    reconV: new GrowableF32(),
    score: new Float64Array(0),
    seen: new Uint32Array(0),
  };
}

function cloneLayer(s: LayerState): LayerState {
  return {
    ...s,
    blocks: s.blocks.map((b) => ({ ...b })),
    reconK: s.reconK.clone(),
    reconV: s.reconV.clone(),
    score: s.score.slice(),
    seen: s.seen.slice(),
  };
}

const quantizerCache = new WeakMap<QuantizerSpec, Quantizer>();
function quantizerFor(spec: QuantizerSpec): Quantizer {
  let q = quantizerCache.get(spec);
  if (!q) {
    q = createQuantizer(spec);
    quantizerCache.set(spec, q);
  }
  return q;
}

function roundF16(src: Float32Array): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = roundToFloat16(src[i]!);
  return out;
}

/**
 * @internal Checks the `predictor` option of a cache against its preset: only for presets with
 * `predictor: 'aqua'`, and of kind `'aqua'`. Throws InvalidArgumentError.
 */
export function checkPredictorOption(preset: PresetConfig, predictor: Predictor | undefined): void {
  if (predictor === undefined) return;
  if (preset.predictor !== 'aqua') {
    throw new InvalidArgumentError(
      `option predictor: preset "${preset.name}" does not use the AQUA predictor (its predictor is '${preset.predictor}'); the option is only for presets with predictor 'aqua'`,
    );
  }
  if (
    predictor === null ||
    typeof predictor !== 'object' ||
    predictor.kind !== 'aqua' ||
    typeof predictor.predictKeys !== 'function' ||
    typeof predictor.predictValues !== 'function'
  ) {
    throw new InvalidArgumentError(
      `option predictor: must be a Predictor of kind 'aqua' (with predictKeys and predictValues), got kind ${JSON.stringify((predictor as { kind?: unknown } | null)?.kind)}`,
    );
  }
}

/**
 * The CPU reference KV cache (see {@link KVCache}). Keys are stored pre-RoPE; RoPE (option
 * `rope`) is applied on read in {@link attention}.
 *
 * Memory: `memoryBytes()` / `stats().bytes` count what the cache stores — the exact size of its
 * serialization (`serialize()`), i.e. encoded blocks, fp16 sinks, the fp16 buffer and the metadata.
 * For speed, the CPU reference also keeps a decoded fp32 mirror of every layer (a working buffer,
 * like the fp32 activations of a forward pass); it is not counted as stored bytes and can be
 * rebuilt from the stored bytes at any time (as `deserializeCache` does).
 */
export class CompressedKVCache implements KVCache {
  readonly layout: KVLayout;
  readonly preset: PresetConfig;
  readonly policy: CachePolicy;
  readonly rope: RopeConfig | undefined;
  readonly adapters: AquaAdapters | undefined;
  readonly checkFinite: boolean;
  readonly #predictor: Predictor;
  readonly #c: number;
  #layers: LayerState[];
  #disposed = false;

  constructor(options: CacheOptions, layers?: LayerState[]) {
    this.layout = validateLayout({ ...options.layout });
    this.preset = typeof options.preset === 'string' ? getPreset(options.preset) : options.preset;
    this.policy = options.policy ?? this.preset.policy;
    const { sinkTokens, bufferTokens } = this.policy;
    if (
      !Number.isInteger(sinkTokens) ||
      sinkTokens < 0 ||
      !Number.isInteger(bufferTokens) ||
      bufferTokens < 0
    ) {
      throw new InvalidArgumentError(
        `cache policy: sinkTokens and bufferTokens must be integers ≥ 0, got ${sinkTokens}, ${bufferTokens}`,
      );
    }
    this.rope = options.rope;
    this.adapters = options.adapters;
    this.checkFinite = options.checkFinite ?? true;
    this.#c = channels(this.layout);
    checkPredictorOption(this.preset, options.predictor);
    if (this.preset.predictor === 'aqua') {
      // built also when `predictor` computes instead: it checks the adapters (missing, mismatched)
      const cpu = aquaPredictor(options.adapters, this.layout, this.preset.name);
      this.#predictor = options.predictor ?? cpu;
      if (this.preset.attentionAware) {
        throw new InvalidArgumentError(
          `preset "${this.preset.name}": attention-aware precision is not supported together with the AQUA predictor`,
        );
      }
    } else {
      this.#predictor = nonePredictor;
    }
    if (this.preset.attentionAware) {
      const f = this.preset.attentionAware.fraction;
      if (!(f >= 0 && f <= 1))
        throw new InvalidArgumentError(`attentionAware.fraction must be in [0, 1], got ${f}`);
    }
    // every quantizer must accept this layout (e.g. group sizes dividing kvHeads × headDim)
    for (let l = 0; l < this.layout.layers; l++) {
      const q = layerQuantizers(this.preset, l);
      const shape = { tokens: 1, kvHeads: this.layout.kvHeads, headDim: this.layout.headDim };
      quantizerFor(q.keys).encodedBytes(shape);
      quantizerFor(q.values).encodedBytes(shape);
    }
    this.#layers = layers ?? Array.from({ length: this.layout.layers }, newLayer);
  }

  #live(): void {
    if (this.#disposed) throw new DisposedError('KVCache');
  }

  /** Tokens held by every layer (the last layer's length: layers are appended in order). */
  get length(): number {
    this.#live();
    return this.#layers[this.layout.layers - 1]!.length;
  }

  /** Tokens held by one layer (differs from `length` in the middle of an append round). */
  layerLength(layer: number): number {
    return this.#layer(layer).length;
  }

  #layer(layer: number): LayerState {
    this.#live();
    if (!Number.isInteger(layer) || layer < 0 || layer >= this.layout.layers) {
      throw new InvalidArgumentError(
        `layer must be an integer in 0..${this.layout.layers - 1}, got ${layer}`,
      );
    }
    return this.#layers[layer]!;
  }

  /** The internal state of every layer (for serialization; do not modify). */
  get layerStates(): readonly LayerState[] {
    return this.#layers;
  }

  append(layer: number, keys: Float32Array, values: Float32Array, tokens: number): void {
    const s = this.#layer(layer);
    const c = this.#c;
    const expected = ['tokens', this.layout.kvHeads, this.layout.headDim];
    if (!Number.isInteger(tokens) || tokens <= 0)
      throw new InvalidArgumentError(`append: tokens must be a positive integer, got ${tokens}`);
    if (!(keys instanceof Float32Array) || keys.length !== tokens * c)
      throw new ShapeError(`append(layer ${layer}) keys`, expected, [
        keys?.length / c,
        this.layout.kvHeads,
        this.layout.headDim,
      ]);
    if (!(values instanceof Float32Array) || values.length !== tokens * c)
      throw new ShapeError(`append(layer ${layer}) values`, expected, [
        values?.length / c,
        this.layout.kvHeads,
        this.layout.headDim,
      ]);
    if (this.checkFinite) {
      assertFinite(`append(layer ${layer}) keys`, keys);
      assertFinite(`append(layer ${layer}) values`, values);
    }
    const last = this.#layers[this.layout.layers - 1]!;
    if (layer === 0 ? s.length !== last.length : s.length + tokens !== this.#layers[layer - 1]!.length) {
      throw new InvalidArgumentError(
        `append: layers must be appended in order for the same tokens (layer ${layer} holds ${s.length} tokens, layer ${layer === 0 ? this.layout.layers - 1 : layer - 1} holds ${layer === 0 ? last.length : this.#layers[layer - 1]!.length}, appending ${tokens})`,
      );
    }
    const k16 = roundF16(keys);
    const v16 = roundF16(values);
    s.reconK.push(k16);
    s.reconV.push(v16);
    const sinkTake = Math.min(tokens, Math.max(0, this.policy.sinkTokens - s.length));
    s.sink += sinkTake;
    s.buffer += tokens - sinkTake;
    s.length += tokens;
    const score = new Float64Array(s.length);
    score.set(s.score);
    s.score = score;
    const seen = new Uint32Array(s.length);
    seen.set(s.seen);
    s.seen = seen;
    const bt = this.policy.bufferTokens;
    if (bt > 0) {
      while (s.buffer >= bt) this.#compress(layer, bt);
    } else if (s.buffer > 0) {
      this.#compress(layer, s.buffer);
    }
  }

  /** Compresses the first `n` buffered tokens of `layer` into one block. */
  #compress(layer: number, n: number): void {
    const s = this.#layers[layer]!;
    const c = this.#c;
    const start = s.sink + s.compressed;
    const shape = { tokens: n, kvHeads: this.layout.kvHeads, headDim: this.layout.headDim };
    const aware = this.preset.attentionAware;
    const qs = aware ? aware.quantizers : layerQuantizers(this.preset, layer);
    const kTrue = s.reconK.view().slice(start * c, (start + n) * c);
    const vTrue = s.reconV.view().slice(start * c, (start + n) * c);
    const prev = layer > 0 ? this.#layers[layer - 1]! : null;
    const prevK = prev ? prev.reconK.view().subarray(start * c, (start + n) * c) : null;
    const prevV = prev ? prev.reconV.view().subarray(start * c, (start + n) * c) : null;

    const kPred = this.#predictor.predictKeys(layer, prevK, n);
    const kq = quantizerFor(qs.keys);
    const kEnc = kq.encode(kPred ? sub(kTrue, kPred) : kTrue, shape);
    const kRec = kq.decode(kEnc);
    if (kPred) addInto(kRec, kPred);
    const vPred = this.#predictor.predictValues(layer, kRec, prevV, n);
    const vq = quantizerFor(qs.values);
    const vEnc = vq.encode(vPred ? sub(vTrue, vPred) : vTrue, shape);
    const vRec = vq.decode(vEnc);
    if (vPred) addInto(vRec, vPred);

    s.reconK.view().set(kRec, start * c);
    s.reconV.view().set(vRec, start * c);
    s.blocks.push({
      tokens: n,
      used: n,
      keySpec: qs.keys,
      valueSpec: qs.values,
      keys: kEnc,
      values: vEnc,
      high: aware !== undefined,
    });
    s.compressed += n;
    s.buffer -= n;
    if (aware) this.#enforceAttentionBudget(layer);
  }

  /**
   * QAQ: blocks are encoded at the higher precision first. Once a block's tokens have been
   * observed (`observeAttention`), it competes for the budget: while observed high-precision
   * tokens exceed `fraction` of the compressed tokens (at least one block's worth, when fraction > 0),
   * the observed high block whose tokens received the least mean attention per observation is
   * re-encoded (from its reconstruction) at the default precision. Demotion is final.
   */
  #enforceAttentionBudget(layer: number): void {
    const aware = this.preset.attentionAware!;
    const s = this.#layers[layer]!;
    const c = this.#c;
    const lastBlock = s.blocks[s.blocks.length - 1]?.tokens ?? 0;
    const allowed = aware.fraction > 0 ? Math.max(Math.floor(aware.fraction * s.compressed), lastBlock) : 0;
    const meanScore = (pos: number, used: number): number | null => {
      let sum = 0;
      let obs = 0;
      for (let t = pos; t < pos + used; t++) {
        if (s.seen[t]! > 0) {
          sum += s.score[t]! / s.seen[t]!;
          obs++;
        }
      }
      return obs === 0 ? null : sum / obs;
    };
    for (;;) {
      let highTokens = 0;
      let worst = -1;
      let worstScore = Number.POSITIVE_INFINITY;
      let pos = s.sink;
      for (let i = 0; i < s.blocks.length; i++) {
        const b = s.blocks[i]!;
        const m = b.high ? meanScore(pos, b.used) : null;
        if (m !== null) {
          highTokens += b.used;
          if (m < worstScore || worst < 0) {
            worstScore = m;
            worst = i;
          }
        }
        pos += b.used;
      }
      if (highTokens <= allowed || worst < 0) return;
      const b = s.blocks[worst]!;
      let start = s.sink;
      for (let i = 0; i < worst; i++) start += s.blocks[i]!.used;
      const qs = layerQuantizers(this.preset, layer);
      const shape = { tokens: b.tokens, kvHeads: this.layout.kvHeads, headDim: this.layout.headDim };
      const kSrc = quantizerFor(b.keySpec).decode(b.keys);
      const vSrc = quantizerFor(b.valueSpec).decode(b.values);
      const kq = quantizerFor(qs.keys);
      const vq = quantizerFor(qs.values);
      b.keys = kq.encode(kSrc, shape);
      b.values = vq.encode(vSrc, shape);
      b.keySpec = qs.keys;
      b.valueSpec = qs.values;
      b.high = false;
      s.reconK.view().set(kq.decode(b.keys).subarray(0, b.used * c), start * c);
      s.reconV.view().set(vq.decode(b.values).subarray(0, b.used * c), start * c);
    }
  }

  /**
   * @internal After a snapshot's blocks were decoded into the mirrors as residuals, adds the AQUA
   * predictions back, layer by layer (layer l's prediction needs layer l−1 fully reconstructed).
   */
  restorePredictions(): void {
    if (this.#predictor.kind === 'none') return;
    const c = this.#c;
    for (let l = 1; l < this.layout.layers; l++) {
      const s = this.#layers[l]!;
      const prev = this.#layers[l - 1]!;
      let pos = s.sink;
      for (const b of s.blocks) {
        const n = b.used;
        const range = [pos * c, (pos + n) * c] as const;
        const k = s.reconK.view().subarray(...range);
        const kPred = this.#predictor.predictKeys(l, prev.reconK.view().subarray(...range), n);
        if (kPred) addInto(k, kPred);
        const v = s.reconV.view().subarray(...range);
        const vPred = this.#predictor.predictValues(l, k, prev.reconV.view().subarray(...range), n);
        if (vPred) addInto(v, vPred);
        pos += n;
      }
    }
  }

  reconstruct(layer: number): { keys: Float32Array; values: Float32Array } {
    const s = this.#layer(layer);
    return { keys: s.reconK.view().slice(), values: s.reconV.view().slice() };
  }

  attention(layer: number, query: Float32Array, qTokens: number, qStart: number): Float32Array {
    const s = this.#layer(layer);
    const { kvHeads, headDim, queryHeads } = this.layout;
    const keys = s.reconK.view().slice();
    if (this.rope) applyRope(keys, s.length, kvHeads, headDim, 0, this.rope);
    return causalAttention({
      query,
      qTokens,
      queryHeads,
      kvHeads,
      headDim,
      keys,
      values: s.reconV.view(),
      kTokens: s.length,
      qStart,
    });
  }

  observeAttention(layer: number, weights: Float32Array): void {
    const s = this.#layer(layer);
    if (!(weights instanceof Float32Array) || weights.length > s.length) {
      throw new ShapeError(
        `observeAttention(layer ${layer}) weights`,
        [`≤ ${s.length}`],
        [weights?.length ?? 0],
      );
    }
    for (let t = 0; t < weights.length; t++) {
      const w = weights[t]!;
      if (!Number.isFinite(w) || w < 0)
        throw new InvalidArgumentError(`observeAttention: weight ${t} must be finite and ≥ 0, got ${w}`);
      s.score[t]! += w;
      s.seen[t]! += 1;
    }
  }

  truncate(length: number): void {
    this.#live();
    if (!Number.isInteger(length) || length < 0 || length > this.length) {
      throw new InvalidArgumentError(
        `truncate: length must be an integer in 0..${this.length}, got ${length}`,
      );
    }
    const c = this.#c;
    for (const s of this.#layers) {
      if (length >= s.length) continue;
      s.reconK.truncate(length * c);
      s.reconV.truncate(length * c);
      s.score = s.score.slice(0, length);
      s.seen = s.seen.slice(0, length);
      s.sink = Math.min(s.sink, length);
      let pos = s.sink;
      const kept: StoredBlock[] = [];
      if (length > s.sink) {
        for (const b of s.blocks) {
          if (pos >= length) break;
          b.used = Math.min(b.used, length - pos);
          kept.push(b);
          pos += b.used;
        }
      }
      s.blocks = kept;
      s.compressed = pos - s.sink;
      s.buffer = length - pos;
      s.length = length;
    }
  }

  fork(): CompressedKVCache {
    this.#live();
    return new CompressedKVCache(
      {
        layout: this.layout,
        preset: this.preset,
        policy: this.policy,
        rope: this.rope,
        adapters: this.adapters,
        predictor: this.preset.predictor === 'aqua' ? this.#predictor : undefined,
        checkFinite: this.checkFinite,
      },
      this.#layers.map(cloneLayer),
    );
  }

  stats(): CacheStats {
    this.#live();
    const c = this.#c;
    let encK = 0;
    let encV = 0;
    let encValues = 0;
    let tokens = 0;
    for (const s of this.#layers) {
      tokens += s.length;
      for (const b of s.blocks) {
        encK += b.keys.bytes.length;
        encV += b.values.bytes.length;
        encValues += b.used * c;
      }
    }
    const values = tokens * c * 2;
    const bytes = this.memoryBytes();
    const nominal = encValues === 0 ? presetBitsPerValue(this.preset, this.layout) : null;
    return {
      tokens: this.length,
      values,
      bitsPerValue: nominal ? nominal.bitsPerValue : ((encK + encV) * 8) / (2 * encValues),
      bitsK: nominal ? nominal.bitsK : (encK * 8) / encValues,
      bitsV: nominal ? nominal.bitsV : (encV * 8) / encValues,
      storedBitsPerValue: values === 0 ? 0 : (bytes * 8) / values,
      bytes,
      fp16Bytes: values * 2,
    };
  }

  memoryBytes(): number {
    this.#live();
    return snapshotSize(this);
  }

  serialize(): Uint8Array {
    this.#live();
    return encodeSnapshot(this);
  }

  dispose(): void {
    this.#disposed = true;
    this.#layers = [];
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

function sub(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! - b[i]!;
  return out;
}

function addInto(a: Float32Array, b: Float32Array): void {
  for (let i = 0; i < a.length; i++) a[i]! += b[i];
}

/** Creates a compressed KV cache (CPU reference) for a layout and preset. */
export function createCache(options: CacheOptions): CompressedKVCache {
  return new CompressedKVCache(options);
}
