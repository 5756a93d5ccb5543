import {
  type AquaAdapters,
  type CachePolicy,
  type CompressedKVCache,
  CorruptFileError,
  InvalidArgumentError,
  type KVLayout,
  type PresetConfig,
  type RopeConfig,
  ShapeError,
  applyRope,
  crc32,
  createCache,
  deserializeCache,
  float16BitsToFloat32,
  float32ToFloat16Bits,
  getPreset,
  strictPolicy,
} from '@kvq/core';
import { type SequenceState, parseSequenceState, writeSequenceState } from './state-file.js';

/** The model facts a compressed state depends on (from its GGUF: {@link kvModelFromGguf}). */
export interface LlamaKvModel {
  readonly name: string;
  readonly architecture: string;
  readonly layout: KVLayout;
  /** the RoPE llama.cpp applies to cached keys (llama: adjacent pairs; qwen2: rotate-half) */
  readonly rope: RopeConfig;
}

/** How to compress a llama.cpp sequence state. */
export interface CompressStateOptions {
  readonly model: LlamaKvModel;
  /** kvq preset (default `'k4v2'`) */
  readonly preset?: string | PresetConfig;
  /** AQUA-KV adapters for presets with predictors (fitted on the GGUF model's pre-RoPE keys) */
  readonly adapters?: AquaAdapters;
  /** cache policy (default: strict — only 4 sink tokens stay in fp16; everything else compressed) */
  readonly policy?: CachePolicy;
  /**
   * `'pre-rope'` (default): undo RoPE before compressing (what kvq's presets and AQUA-KV adapters
   * expect); `'post-rope'`: store keys as llama.cpp holds them (with the fp16 preset the restored
   * state is then bit-identical to the saved one).
   */
  readonly keys?: 'pre-rope' | 'post-rope';
}

const F32 = 0;
const F16 = 1;
const MAGIC = [0x4b, 0x56, 0x51, 0x4c]; // "KVQL"
const VERSION = 1;
const WHAT = 'kvq llama.cpp state';

interface EnvelopeHeader {
  format: 'kvq-llama-state';
  model: { name: string; architecture: string; layout: KVLayout; rope: RopeConfig };
  preset: string;
  keys: 'pre-rope' | 'post-rope';
  tokens: number[];
  positions: number[];
  seqId: number;
  vTrans: boolean;
  keyType: number;
  valueType: number;
}

const typeSize = (t: number, what: string) => {
  if (t === F16) return 2;
  if (t === F32) return 4;
  throw new InvalidArgumentError(
    `${what}: llama.cpp cache type ${t} is not supported (compress states of f16 or f32 caches; quantized cache types are already lossy)`,
  );
};

function toFloat(bytes: Uint8Array, type: number): Float32Array {
  if (type === F32) return new Float32Array(bytes.slice().buffer);
  return float16BitsToFloat32(new Uint16Array(bytes.slice().buffer));
}

function fromFloat(x: Float32Array, type: number): Uint8Array {
  if (type === F32) return new Uint8Array(x.slice().buffer);
  return new Uint8Array(float32ToFloat16Bits(x).buffer);
}

function checkModel(state: SequenceState, model: LlamaKvModel): void {
  const c = model.layout.kvHeads * model.layout.headDim;
  if (state.layers.length !== model.layout.layers)
    throw new ShapeError(`${WHAT}: layers`, [model.layout.layers], [state.layers.length]);
  for (const [l, layer] of state.layers.entries()) {
    const ks = typeSize(layer.keyType, `layer ${l} keys`);
    const vs = typeSize(layer.valueType, `layer ${l} values`);
    if (layer.keyRowBytes !== c * ks)
      throw new ShapeError(
        `${WHAT}: layer ${l} key row bytes (another model?)`,
        [c * ks],
        [layer.keyRowBytes],
      );
    const vWidth = state.vTrans ? layer.valueWidth : layer.valueUnitBytes / vs;
    if (vWidth !== c) throw new ShapeError(`${WHAT}: layer ${l} value width (another model?)`, [c], [vWidth]);
  }
}

/** How a llama.cpp state lays out its cache (must match the context it is loaded into). */
export interface StateFormat {
  /** V stored transposed (llama.cpp without flash attention) */
  readonly vTrans: boolean;
  /** ggml type ids of the cached keys and values (1 = f16, 0 = f32) */
  readonly keyType: number;
  readonly valueType: number;
  readonly seqId: number;
}

/**
 * Reads a llama.cpp sequence state into a kvq compressed cache (cells in state order; keys
 * un-rotated at each cell's position unless `keys: 'post-rope'`). The caller owns (disposes) the cache.
 */
export function cacheFromState(
  stateBytes: Uint8Array,
  options: CompressStateOptions,
): { cache: CompressedKVCache; tokens: number[]; positions: number[]; format: StateFormat } {
  const { model } = options;
  const state = parseSequenceState(stateBytes, model.layout.layers);
  const keysMode = options.keys ?? 'pre-rope';
  const preset = typeof options.preset === 'object' ? options.preset : getPreset(options.preset ?? 'k4v2');
  if (keysMode === 'post-rope' && preset.predictor === 'aqua')
    throw new InvalidArgumentError(
      `preset ${preset.name}: AQUA-KV adapters need pre-RoPE keys (keys: 'pre-rope')`,
    );
  const cells = state.positions.length;
  const { layout } = model;
  const C = layout.kvHeads * layout.headDim;
  if (cells > 0) checkModel(state, model);
  const cache = createCache({
    layout,
    preset,
    policy: options.policy ?? strictPolicy,
    ...(options.adapters ? { adapters: options.adapters } : {}),
  });
  try {
    for (const [l, layer] of state.layers.entries()) {
      let k = toFloat(layer.keys, layer.keyType);
      if (keysMode === 'pre-rope')
        k = applyRope(k, cells, layout.kvHeads, layout.headDim, state.positions, model.rope, true);
      let v = toFloat(layer.values, layer.valueType);
      if (state.vTrans) {
        const t = new Float32Array(cells * C);
        for (let j = 0; j < C; j++) for (let i = 0; i < cells; i++) t[i * C + j] = v[j * cells + i]!;
        v = t;
      }
      cache.append(l, k, v, cells);
    }
  } catch (err) {
    cache.dispose();
    throw err;
  }
  return {
    cache,
    tokens: Array.from(state.tokens),
    positions: Array.from(state.positions),
    format: {
      vTrans: state.vTrans,
      keyType: state.layers[0]?.keyType ?? F16,
      valueType: state.layers[0]?.valueType ?? F16,
      seqId: state.seqId,
    },
  };
}

/**
 * Writes a llama.cpp sequence state from a kvq cache of the model (positions 0… unless given; keys
 * re-rotated unless they were stored post-RoPE) in `format`.
 */
export function stateFromCache(
  cache: CompressedKVCache,
  tokens: readonly number[],
  options: {
    readonly model: LlamaKvModel;
    readonly format: StateFormat;
    readonly positions?: readonly number[];
    readonly keys?: 'pre-rope' | 'post-rope';
  },
): Uint8Array {
  const { model, format } = options;
  const b = model.layout;
  const a = cache.layout;
  if (a.layers !== b.layers || a.kvHeads !== b.kvHeads || a.headDim !== b.headDim)
    throw new ShapeError(
      `${WHAT}: cache layout is not the model's`,
      [b.layers, b.kvHeads, b.headDim],
      [a.layers, a.kvHeads, a.headDim],
    );
  const cells = cache.length;
  if (tokens.length !== cells)
    throw new InvalidArgumentError(`${cells} cached tokens but ${tokens.length} token ids`);
  const positions = Int32Array.from(options.positions ?? Array.from({ length: cells }, (_, i) => i));
  const C = b.kvHeads * b.headDim;
  const ks = typeSize(format.keyType, 'keys');
  const vs = typeSize(format.valueType, 'values');
  const layers = [];
  for (let l = 0; l < (cells > 0 ? b.layers : 0); l++) {
    const r = cache.reconstruct(l);
    const k =
      (options.keys ?? 'pre-rope') === 'pre-rope'
        ? applyRope(r.keys, cells, b.kvHeads, b.headDim, positions, model.rope)
        : r.keys;
    let v = r.values;
    if (format.vTrans) {
      const t = new Float32Array(cells * C);
      for (let i = 0; i < cells; i++) for (let j = 0; j < C; j++) t[j * cells + i] = v[i * C + j]!;
      v = t;
    }
    layers.push({
      keyType: format.keyType,
      keyRowBytes: C * ks,
      keys: fromFloat(k, format.keyType),
      valueType: format.valueType,
      valueUnitBytes: format.vTrans ? vs : C * vs,
      valueWidth: format.vTrans ? C : 0,
      values: fromFloat(v, format.valueType),
    });
  }
  return writeSequenceState({
    tokens: Int32Array.from(tokens),
    positions,
    seqId: format.seqId,
    vTrans: format.vTrans,
    layers,
  });
}

/**
 * Compresses a llama.cpp sequence state (the bytes `sequence.saveStateToFile` writes) with a kvq
 * preset. Returns a `.kvq` state: a small header (model identity, tokens, positions, cache types)
 * and the kvq cache snapshot, with CRC-32 checks. Errors: a state of another model (`ShapeError`),
 * a corrupt state (`CorruptFileError`), unsupported cache types (`InvalidArgumentError`).
 */
export function compressState(stateBytes: Uint8Array, options: CompressStateOptions): Uint8Array {
  const { model } = options;
  const { cache, tokens, positions, format } = cacheFromState(stateBytes, options);
  try {
    const header: EnvelopeHeader = {
      format: 'kvq-llama-state',
      model: { name: model.name, architecture: model.architecture, layout: model.layout, rope: model.rope },
      preset: cache.preset.name,
      keys: options.keys ?? 'pre-rope',
      tokens,
      positions,
      seqId: format.seqId,
      vTrans: format.vTrans,
      keyType: format.keyType,
      valueType: format.valueType,
    };
    const json = new TextEncoder().encode(JSON.stringify(header));
    const snapshot = cache.length > 0 ? cache.serialize() : new Uint8Array(0);
    const out = new Uint8Array(16 + json.length + snapshot.length);
    const dv = new DataView(out.buffer);
    out.set(MAGIC, 0);
    dv.setUint16(4, VERSION, true);
    dv.setUint32(8, json.length, true);
    out.set(json, 12);
    dv.setUint32(12 + json.length, crc32(out.subarray(0, 12 + json.length)), true);
    out.set(snapshot, 16 + json.length);
    return out;
  } finally {
    cache.dispose();
  }
}

/** Reads the header of a `.kvq` state (model identity, preset, tokens…) after checking it. */
export function readCompressedStateHeader(bytes: Uint8Array): EnvelopeHeader & { snapshotBytes: number } {
  if (!(bytes instanceof Uint8Array) || bytes.length < 16)
    throw new CorruptFileError(WHAT, 'truncated: shorter than its header');
  if (!MAGIC.every((m, i) => bytes[i] === m))
    throw new CorruptFileError(WHAT, 'wrong magic (not a kvq llama.cpp state)');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint16(4, true);
  if (version !== VERSION)
    throw new CorruptFileError(WHAT, `version ${version} is not supported (this reads ${VERSION})`);
  const n = dv.getUint32(8, true);
  if (16 + n > bytes.length) throw new CorruptFileError(WHAT, `truncated: header of ${n} bytes`);
  if (dv.getUint32(12 + n, true) !== crc32(bytes.subarray(0, 12 + n)))
    throw new CorruptFileError(WHAT, 'header checksum mismatch');
  let h: EnvelopeHeader;
  try {
    h = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + n)));
  } catch {
    throw new CorruptFileError(WHAT, 'header is not JSON');
  }
  if (
    h?.format !== 'kvq-llama-state' ||
    !Array.isArray(h.tokens) ||
    !Array.isArray(h.positions) ||
    typeof h.model?.name !== 'string' ||
    typeof h.model.layout !== 'object' ||
    typeof h.vTrans !== 'boolean' ||
    !Number.isInteger(h.keyType) ||
    !Number.isInteger(h.valueType)
  )
    throw new CorruptFileError(WHAT, 'header is not a kvq llama.cpp state header');
  return { ...h, snapshotBytes: bytes.length - 16 - n };
}

/**
 * Rebuilds the llama.cpp sequence-state file from a `.kvq` state, for `sequence.loadStateFromFile`.
 * The V layout is the saving context's unless `vTrans` says otherwise: llama.cpp stores V transposed
 * without flash attention and refuses a state of the other layout ("incompatible V transposition"),
 * so pass `vTrans: true` to load into a context without flash attention, `false` with it.
 * A state for another model (layout or name) is a `ShapeError` / `InvalidArgumentError`.
 */
export function decompressState(
  bytes: Uint8Array,
  options: { model: LlamaKvModel; adapters?: AquaAdapters; vTrans?: boolean },
): Uint8Array {
  const h = readCompressedStateHeader(bytes);
  const { model } = options;
  const a = h.model.layout;
  const b = model.layout;
  if (
    a.layers !== b.layers ||
    a.kvHeads !== b.kvHeads ||
    a.headDim !== b.headDim ||
    a.queryHeads !== b.queryHeads
  )
    throw new ShapeError(
      `${WHAT}: saved for another model layout`,
      [b.layers, b.queryHeads, b.kvHeads, b.headDim],
      [a.layers, a.queryHeads, a.kvHeads, a.headDim],
    );
  if (h.model.name !== model.name)
    throw new InvalidArgumentError(`${WHAT}: saved for model "${h.model.name}", not "${model.name}"`);
  const vTrans = options.vTrans ?? h.vTrans;
  const format: StateFormat = {
    vTrans,
    keyType: h.keyType,
    valueType: h.valueType,
    seqId: h.seqId,
  };
  if (h.positions.length === 0)
    return writeSequenceState({
      tokens: Int32Array.from(h.tokens),
      positions: new Int32Array(0),
      seqId: h.seqId,
      vTrans,
      layers: [],
    });
  const cache = deserializeCache(
    bytes.subarray(bytes.length - h.snapshotBytes),
    options.adapters ? { adapters: options.adapters } : {},
  );
  try {
    if (cache.length !== h.positions.length)
      throw new CorruptFileError(WHAT, `snapshot holds ${cache.length} tokens, header ${h.positions.length}`);
    return stateFromCache(cache, h.tokens, { model, format, positions: h.positions, keys: h.keys });
  } finally {
    cache.dispose();
  }
}
