import type { DynamicCache, Tensor } from '@huggingface/transformers';
import { InvalidArgumentError, type KVLayout, ShapeError } from '@kvq/core';

/** What transformers.js keeps as a model's cache: `past_key_values.{layer}.key|value` tensors. */
export type PastKeyValues = Record<string, Tensor>;

/** The two transformers.js classes a restored cache is built from (loaded lazily: an optional peer). */
export interface TransformersLib {
  readonly Tensor: typeof Tensor;
  readonly DynamicCache: typeof DynamicCache;
}

/**
 * Loads `@huggingface/transformers` (the optional peer dependency) once it is needed; a clear
 * `InvalidArgumentError` when it is not installed.
 */
export async function loadTransformers(): Promise<TransformersLib> {
  try {
    const m = await import('@huggingface/transformers');
    return { Tensor: m.Tensor, DynamicCache: m.DynamicCache };
  } catch (err) {
    throw new InvalidArgumentError(
      `@kvq/transformers needs @huggingface/transformers installed to build caches (${(err as Error).message})`,
    );
  }
}

const isTensor = (t: unknown): t is Tensor =>
  typeof t === 'object' && t !== null && Array.isArray((t as Tensor).dims) && 'data' in t && 'type' in t;

/** One layer's keys and values `[tokens, kvHeads, headDim]` (fp32, token-major). */
export interface LayerKV {
  readonly keys: Float32Array;
  readonly values: Float32Array;
}

const name = (layer: number, kind: 'key' | 'value') => `past_key_values.${layer}.${kind}`;

/** `[1, H, T, D]` → `[T, H, D]` */
function toTokenMajor(data: Float32Array, H: number, T: number, D: number): Float32Array {
  const out = new Float32Array(T * H * D);
  for (let h = 0; h < H; h++)
    for (let t = 0; t < T; t++) out.set(data.subarray((h * T + t) * D, (h * T + t + 1) * D), (t * H + h) * D);
  return out;
}

/** `[T, H, D]` → `[1, H, T, D]` */
function toHeadMajor(data: Float32Array, H: number, T: number, D: number): Float32Array {
  const out = new Float32Array(T * H * D);
  for (let t = 0; t < T; t++)
    for (let h = 0; h < H; h++) out.set(data.subarray((t * H + h) * D, (t * H + h + 1) * D), (h * T + t) * D);
  return out;
}

/**
 * Reads every layer's K/V out of a transformers.js cache (a `DynamicCache` or the plain record),
 * checking names, dtype (float32, or float16 read as fp32) and shapes against `layout`. Batch must
 * be 1 (one conversation per cache). Tensors on the GPU must be downloaded first
 * (`await tensor.getData()` is not done implicitly).
 */
export function readPastKeyValues(
  pkv: PastKeyValues,
  layout: KVLayout,
): { tokens: number; layers: LayerKV[] } {
  if (pkv === null || typeof pkv !== 'object')
    throw new InvalidArgumentError(
      `past_key_values must be a DynamicCache or a record of tensors, got ${String(pkv)}`,
    );
  const { layers: L, kvHeads: H, headDim: D } = layout;
  let tokens = -1;
  const out: LayerKV[] = [];
  for (let l = 0; l < L; l++) {
    const kv = (['key', 'value'] as const).map((kind) => {
      const t = pkv[name(l, kind)];
      if (!isTensor(t)) throw new InvalidArgumentError(`past_key_values: missing tensor ${name(l, kind)}`);
      if (t.location !== 'cpu')
        throw new InvalidArgumentError(
          `past_key_values: ${name(l, kind)} lives in '${t.location}'; download it to the CPU before compressing`,
        );
      const [b, h, T, d] = t.dims as number[];
      if (t.dims.length !== 4 || b !== 1 || h !== H || d !== D)
        throw new ShapeError(`past_key_values ${name(l, kind)}`, [1, H, 'tokens', D], [...t.dims]);
      if (tokens === -1) tokens = T!;
      else if (T !== tokens)
        throw new ShapeError(`past_key_values ${name(l, kind)}`, [1, H, tokens, D], [...t.dims]);
      if (t.type === 'float32') return toTokenMajor(t.data as Float32Array, H, tokens, D);
      if (t.type === 'float16') {
        const f32 = Float32Array.from(t.data as ArrayLike<number>);
        return toTokenMajor(f32, H, tokens, D);
      }
      throw new InvalidArgumentError(
        `past_key_values: ${name(l, kind)} has dtype ${t.type}, expected float32 or float16`,
      );
    });
    out.push({ keys: kv[0]!, values: kv[1]! });
  }
  const extra = Object.keys(pkv).filter(
    (k) => k.startsWith('past_key_values.') && Number(k.split('.')[1]) >= L,
  );
  if (extra.length > 0)
    throw new InvalidArgumentError(
      `past_key_values has layers beyond the layout's ${L} (${extra[0]}): the cache belongs to another model`,
    );
  return { tokens: Math.max(tokens, 0), layers: out };
}

/** Builds a transformers.js `DynamicCache` (fp32 CPU tensors `[1, kvHeads, tokens, headDim]`). */
export function toDynamicCache(
  layers: readonly LayerKV[],
  tokens: number,
  layout: KVLayout,
  { Tensor, DynamicCache }: TransformersLib,
): DynamicCache {
  const { kvHeads: H, headDim: D } = layout;
  const entries: PastKeyValues = {};
  layers.forEach((kv, l) => {
    entries[name(l, 'key')] = new Tensor('float32', toHeadMajor(kv.keys, H, tokens, D), [1, H, tokens, D]);
    entries[name(l, 'value')] = new Tensor('float32', toHeadMajor(kv.values, H, tokens, D), [
      1,
      H,
      tokens,
      D,
    ]);
  });
  return new DynamicCache(entries);
}
