import {
  type KVLayout,
  KvqError,
  type SafetensorsTensorInput,
  decodeSafetensors,
  encodeSafetensors,
  safetensorToFloat32,
  validateLayout,
} from '@kvq/core';
import { CliError, EXIT } from './errors.js';

/**
 * Raw K/V in a safetensors file, the format `kvq decompress` writes and `kvq compress --kv` reads:
 * tensors `layers.{l}.keys` and `layers.{l}.values`, `[tokens, kvHeads, headDim]`, F32, F16, BF16 or
 * F64, for l = 0 … layers−1, keys before RoPE. Metadata `kvq.layout` (JSON {@link KVLayout}) gives
 * the query heads; `kvq.keys` says how keys are stored (`pre-RoPE`).
 */
export interface KvTensors {
  readonly layout: KVLayout;
  readonly tokens: number;
  /** per layer, `[tokens, kvHeads, headDim]` fp32 */
  readonly keys: readonly Float32Array[];
  readonly values: readonly Float32Array[];
  readonly metadata: Readonly<Record<string, string>>;
}

const HINT =
  'expected tensors layers.{l}.keys / layers.{l}.values [tokens, kvHeads, headDim] (F32/F16/BF16), as `kvq decompress` writes';
const NAME = /^layers\.(0|[1-9]\d*)\.(keys|values)$/;

function bad(file: string, detail: string): never {
  throw new CliError(`${file}: ${detail}`, HINT, EXIT.input);
}

/**
 * Reads raw K/V from safetensors bytes. `queryHeads` is needed when the file has no `kvq.layout`
 * metadata. Every problem (not safetensors, missing/extra/mis-shaped tensors, integer dtypes, a
 * layout that disagrees with the tensors) is a bad-input {@link CliError} (exit 3) naming it.
 */
export function readKvSafetensors(bytes: Uint8Array, file: string, queryHeads?: number): KvTensors {
  let st: ReturnType<typeof decodeSafetensors>;
  try {
    st = decodeSafetensors(bytes);
  } catch (err) {
    if (err instanceof KvqError) bad(file, err.message);
    throw err;
  }
  const names = Object.keys(st.tensors);
  if (names.length === 0) bad(file, 'no tensors');
  let layers = 0;
  for (const n of names) {
    const m = NAME.exec(n);
    if (!m) bad(file, `unexpected tensor "${n}"`);
    layers = Math.max(layers, Number(m[1]) + 1);
  }
  const first = st.tensors['layers.0.keys'];
  if (!first) bad(file, 'tensor "layers.0.keys" is missing');
  if (first.shape.length !== 3) bad(file, `layers.0.keys has shape [${first.shape}], expected 3 dimensions`);
  const [tokens, kvHeads, headDim] = first.shape as [number, number, number];
  const keys: Float32Array[] = [];
  const values: Float32Array[] = [];
  for (let l = 0; l < layers; l++) {
    for (const part of ['keys', 'values'] as const) {
      const name = `layers.${l}.${part}`;
      const t = st.tensors[name];
      if (!t) bad(file, `tensor "${name}" is missing (the file has layers 0…${layers - 1})`);
      if (t.shape.length !== 3 || t.shape[0] !== tokens || t.shape[1] !== kvHeads || t.shape[2] !== headDim)
        bad(file, `${name} has shape [${t.shape}], expected [${tokens}, ${kvHeads}, ${headDim}]`);
      let data: Float32Array;
      try {
        data = safetensorToFloat32(t);
      } catch (err) {
        if (err instanceof KvqError) bad(file, `${name}: ${err.message}`);
        throw err;
      }
      (part === 'keys' ? keys : values).push(data);
    }
  }
  let qh = queryHeads;
  const meta = st.metadata['kvq.layout'];
  if (meta !== undefined) {
    let parsed: Partial<KVLayout>;
    try {
      parsed = JSON.parse(meta) as Partial<KVLayout>;
    } catch {
      bad(file, 'metadata "kvq.layout" is not JSON');
    }
    if (parsed.layers !== layers || parsed.kvHeads !== kvHeads || parsed.headDim !== headDim)
      bad(
        file,
        `metadata "kvq.layout" ${meta} disagrees with the tensors (${layers} layers, ${kvHeads} KV heads, head dim ${headDim})`,
      );
    if (qh !== undefined && qh !== parsed.queryHeads)
      throw new CliError(
        `--query-heads ${qh} disagrees with the file's layout (${parsed.queryHeads} query heads)`,
        'leave --query-heads out: the file says it',
        EXIT.usage,
      );
    qh = parsed.queryHeads;
  }
  if (qh === undefined)
    throw new CliError(
      `${file} does not say the model's query heads (no "kvq.layout" metadata)`,
      'pass --query-heads <n>',
      EXIT.usage,
    );
  const layout: KVLayout = { layers, queryHeads: qh, kvHeads, headDim };
  try {
    validateLayout(layout);
  } catch (err) {
    if (err instanceof KvqError) bad(file, err.message);
    throw err;
  }
  return { layout, tokens, keys, values, metadata: st.metadata };
}

/** Encodes per-layer fp32 K/V as the safetensors file {@link readKvSafetensors} reads. */
export function encodeKvSafetensors(
  layout: KVLayout,
  tokens: number,
  keys: readonly Float32Array[],
  values: readonly Float32Array[],
  metadata: Record<string, string> = {},
): Uint8Array {
  const tensors: Record<string, SafetensorsTensorInput> = {};
  const shape = [tokens, layout.kvHeads, layout.headDim];
  for (let l = 0; l < layout.layers; l++) {
    tensors[`layers.${l}.keys`] = { dtype: 'F32', shape, data: keys[l]! };
    tensors[`layers.${l}.values`] = { dtype: 'F32', shape, data: values[l]! };
  }
  return encodeSafetensors(tensors, {
    'kvq.keys': 'pre-RoPE',
    ...metadata,
    'kvq.layout': JSON.stringify(layout),
  });
}
