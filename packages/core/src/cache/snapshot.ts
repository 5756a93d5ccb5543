/**
 * The `.kvq` cache snapshot: a `kvq-cache` container (FORMATS.md) whose JSON header holds the
 * layout, preset, policy, RoPE, the quantizer specs and each layer's segment table, and whose
 * sections hold each layer's stored bytes:
 *
 *     [sink keys fp16][sink values fp16] ([block keys][block values])* [buffer keys fp16][buffer values fp16]
 *
 * (fp16 little-endian, `[tokens, kvHeads, headDim]`). Block byte lengths follow from each block's
 * spec and token count (Quantizer.encodedBytes). Adapters are never embedded: a snapshot of an AQUA
 * cache records the adapters' model and layout, and loading needs matching adapters.
 */
import type { RopeConfig } from '../backend/types.js';
import { AdapterMismatchError, CorruptFileError, KvqError } from '../errors.js';
import { float16Table, toFloat16Bits } from '../float16.js';
import { containerSize, decodeContainer, encodeContainer } from '../formats/container.js';
import { encodeUtf8, stringifyJson } from '../formats/json.js';
import { type KVLayout, channels, validateLayout } from '../layout.js';
import type { AquaAdapters, Predictor } from '../predictors/types.js';
import { createQuantizer } from '../quantizers/factory.js';
import type { QuantizerSpec } from '../quantizers/spec.js';
import type { StoredBlock } from './block.js';
import { CompressedKVCache, type LayerState, checkPredictorOption } from './compressed-cache.js';
import { GrowableF32 } from './growable.js';
import type { CachePolicy, PresetConfig } from './types.js';

/** Snapshot format versions this build reads and writes. */
export const SNAPSHOT_VERSION = 1;

interface LayerHeader {
  length: number;
  sink: number;
  buffer: number;
  /** [tokens, used, keySpecIndex, valueSpecIndex, high (0|1)] */
  blocks: [number, number, number, number, number][];
}

interface SnapshotHeader {
  format: 'kvq-cache';
  layout: KVLayout;
  preset: PresetConfig;
  policy: CachePolicy;
  rope: RopeConfig | null;
  checkFinite: boolean;
  adapters: { model: AquaAdapters['model']; layout: KVLayout } | null;
  specs: QuantizerSpec[];
  layers: LayerHeader[];
}

function buildHeader(cache: CompressedKVCache): SnapshotHeader {
  const specs: QuantizerSpec[] = [];
  const index = new Map<string, number>();
  const specIndex = (s: QuantizerSpec) => {
    const key = JSON.stringify(s);
    let i = index.get(key);
    if (i === undefined) {
      i = specs.length;
      specs.push(s);
      index.set(key, i);
    }
    return i;
  };
  return {
    format: 'kvq-cache',
    layout: { ...cache.layout },
    // a JSON copy: optional fields left undefined by the caller are dropped, as JSON would
    preset: JSON.parse(JSON.stringify(cache.preset)) as PresetConfig,
    policy: { ...cache.policy },
    rope: cache.rope ?? null,
    checkFinite: cache.checkFinite,
    adapters: cache.adapters ? { model: cache.adapters.model, layout: cache.adapters.layout } : null,
    specs,
    layers: cache.layerStates.map((s) => ({
      length: s.length,
      sink: s.sink,
      buffer: s.buffer,
      blocks: s.blocks.map((b) => [
        b.tokens,
        b.used,
        specIndex(b.keySpec),
        specIndex(b.valueSpec),
        b.high ? 1 : 0,
      ]),
    })),
  };
}

function layerSectionLength(s: LayerState, c: number): number {
  let n = (s.sink + s.buffer) * c * 2 * 2;
  for (const b of s.blocks) n += b.keys.bytes.length + b.values.bytes.length;
  return n;
}

/** The exact size in bytes of `cache.serialize()`, computed without building it. */
export function snapshotSize(cache: CompressedKVCache): number {
  const c = channels(cache.layout);
  const header = encodeUtf8(stringifyJson('kvq-cache header', buildHeader(cache)));
  return containerSize(
    header.length,
    cache.layerStates.map((s) => layerSectionLength(s, c)),
  );
}

function writeF16(dst: DataView, offset: number, src: Float32Array): number {
  for (let i = 0; i < src.length; i++) dst.setUint16(offset + 2 * i, toFloat16Bits(src[i]!), true);
  return offset + 2 * src.length;
}

function readF16(src: DataView, offset: number, n: number, dst: Float32Array, table: Float32Array): number {
  for (let i = 0; i < n; i++) dst[i] = table[src.getUint16(offset + 2 * i, true)]!;
  return offset + 2 * n;
}

/** Serializes a cache (see the module comment for the layout). */
export function encodeSnapshot(cache: CompressedKVCache): Uint8Array {
  const c = channels(cache.layout);
  const sections = cache.layerStates.map((s) => {
    const out = new Uint8Array(layerSectionLength(s, c));
    const view = new DataView(out.buffer);
    const k = s.reconK.view();
    const v = s.reconV.view();
    let p = writeF16(view, 0, k.subarray(0, s.sink * c));
    p = writeF16(view, p, v.subarray(0, s.sink * c));
    for (const b of s.blocks) {
      out.set(b.keys.bytes, p);
      p += b.keys.bytes.length;
      out.set(b.values.bytes, p);
      p += b.values.bytes.length;
    }
    const bufStart = (s.sink + s.compressed) * c;
    p = writeF16(view, p, k.subarray(bufStart, bufStart + s.buffer * c));
    writeF16(view, p, v.subarray(bufStart, bufStart + s.buffer * c));
    return out;
  });
  return encodeContainer({
    kind: 'kvq-cache',
    version: SNAPSHOT_VERSION,
    header: buildHeader(cache),
    sections,
  });
}

const WHAT = 'kvq cache snapshot';

function fail(detail: string): never {
  throw new CorruptFileError(WHAT, detail);
}

function isInt(v: unknown, min = 0): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min;
}

/** Options of {@link deserializeCache}. */
export interface DeserializeOptions {
  /** required for a snapshot of an AQUA cache; must match the adapters it was written with */
  readonly adapters?: AquaAdapters;
  /**
   * Restores the AQUA predictions with this predictor instead of the CPU one (the `predictor`
   * option of the cache, see `CacheOptions.predictor`), and the restored cache keeps using it. Only
   * for snapshots of a preset with `predictor: 'aqua'` (otherwise InvalidArgumentError);
   * `adapters` must still be given.
   */
  readonly predictor?: Predictor;
}

/**
 * Restores a cache written by `serialize()`. Errors: truncated or corrupt bytes →
 * CorruptFileError; another format version → UnsupportedVersionError; an AQUA snapshot without
 * or with other adapters → MissingAdaptersError / AdapterMismatchError.
 */
export function deserializeCache(bytes: Uint8Array, opts: DeserializeOptions = {}): CompressedKVCache {
  const { header: raw, sections } = decodeContainer(bytes, {
    kind: 'kvq-cache',
    versions: [SNAPSHOT_VERSION],
  });
  const h = raw as unknown as SnapshotHeader;
  if (h.format !== 'kvq-cache' || typeof h.layout !== 'object' || h.layout === null)
    fail('header is not a kvq-cache header');
  let layout: KVLayout;
  try {
    layout = validateLayout(h.layout);
  } catch (e) {
    fail(`bad layout: ${(e as Error).message}`);
  }
  if (!Array.isArray(h.layers) || h.layers.length !== layout.layers || sections.length !== layout.layers) {
    fail(`expected ${layout.layers} layers and sections, found ${h.layers?.length} / ${sections.length}`);
  }
  if (!Array.isArray(h.specs)) fail('specs missing');
  if (h.adapters && opts.adapters) {
    const a = opts.adapters;
    if (
      a.model.name !== h.adapters.model.name ||
      (h.adapters.model.fingerprint && a.model.fingerprint !== h.adapters.model.fingerprint)
    ) {
      throw new AdapterMismatchError(
        `snapshot was written with adapters for model "${h.adapters.model.name}", given adapters for "${a.model.name}"`,
      );
    }
  }
  // a predictor that does not fit the snapshot's preset is the caller's error, not a corrupt file
  if (opts.predictor !== undefined && typeof h.preset?.predictor === 'string')
    checkPredictorOption(h.preset, opts.predictor);
  let cache: CompressedKVCache;
  try {
    cache = new CompressedKVCache({
      layout,
      preset: h.preset,
      policy: h.policy,
      rope: h.rope ?? undefined,
      adapters: opts.adapters,
      predictor: opts.predictor,
      checkFinite: h.checkFinite !== false,
    });
  } catch (e) {
    if (e instanceof KvqError && e.code !== 'INVALID_ARGUMENT' && e.code !== 'SHAPE_MISMATCH') throw e;
    fail(`invalid preset or policy: ${(e as Error).message}`);
  }
  const c = channels(layout);
  const table = float16Table();
  const states = cache.layerStates as LayerState[];
  const specs = h.specs.map((s) => {
    try {
      return { spec: s, q: createQuantizer(s) };
    } catch (e) {
      fail(`invalid quantizer spec: ${(e as Error).message}`);
    }
  });
  for (let l = 0; l < layout.layers; l++) {
    const lh = h.layers[l]!;
    if (!isInt(lh.length) || !isInt(lh.sink) || !isInt(lh.buffer) || !Array.isArray(lh.blocks))
      fail(`layer ${l}: bad segment table`);
    const sec = sections[l]!;
    const view = new DataView(sec.buffer, sec.byteOffset, sec.byteLength);
    const s = states[l]!;
    s.reconK = new GrowableF32(lh.length * c);
    s.reconV = new GrowableF32(lh.length * c);
    s.reconK.length = lh.length * c;
    s.reconV.length = lh.length * c;
    const rk = s.reconK.view();
    const rv = s.reconV.view();
    const need = (n: number, p: number) => {
      if (p + n > sec.length) fail(`layer ${l}: section holds ${sec.length} bytes, need more than ${p + n}`);
    };
    let p = 0;
    need(lh.sink * c * 4, p);
    p = readF16(view, p, lh.sink * c, rk.subarray(0, lh.sink * c), table);
    p = readF16(view, p, lh.sink * c, rv.subarray(0, lh.sink * c), table);
    let pos = lh.sink;
    const blocks: StoredBlock[] = [];
    for (const entry of lh.blocks) {
      if (!Array.isArray(entry) || entry.length !== 5) fail(`layer ${l}: bad block entry`);
      const [tokens, used, ki, vi, high] = entry;
      if (
        !isInt(tokens, 1) ||
        !isInt(used, 1) ||
        used > tokens ||
        !isInt(ki) ||
        !isInt(vi) ||
        ki >= specs.length ||
        vi >= specs.length
      ) {
        fail(`layer ${l}: bad block entry ${JSON.stringify(entry)}`);
      }
      if (pos + used > lh.length) fail(`layer ${l}: blocks exceed the layer length`);
      const shape = { tokens, kvHeads: layout.kvHeads, headDim: layout.headDim };
      const kq = specs[ki]!;
      const vq = specs[vi]!;
      const kn = kq.q.encodedBytes(shape);
      const vn = vq.q.encodedBytes(shape);
      need(kn + vn, p);
      const keys = { shape, bytes: sec.slice(p, p + kn) };
      p += kn;
      const values = { shape, bytes: sec.slice(p, p + vn) };
      p += vn;
      const kRec = kq.q.decode(keys).subarray(0, used * c);
      const vRes = vq.q.decode(values).subarray(0, used * c);
      rk.set(kRec, pos * c);
      rv.set(vRes, pos * c);
      blocks.push({ tokens, used, keySpec: kq.spec, valueSpec: vq.spec, keys, values, high: high === 1 });
      pos += used;
    }
    if (pos + lh.buffer !== lh.length) fail(`layer ${l}: sink + blocks + buffer ≠ length`);
    need(lh.buffer * c * 4, p);
    p = readF16(view, p, lh.buffer * c, rk.subarray(pos * c, lh.length * c), table);
    p = readF16(view, p, lh.buffer * c, rv.subarray(pos * c, lh.length * c), table);
    if (p !== sec.length) fail(`layer ${l}: ${sec.length - p} trailing bytes`);
    s.length = lh.length;
    s.sink = lh.sink;
    s.buffer = lh.buffer;
    s.compressed = pos - lh.sink;
    s.blocks = blocks;
    s.score = new Float64Array(lh.length);
    s.seen = new Uint32Array(lh.length);
  }
  cache.restorePredictions();
  return cache;
}
