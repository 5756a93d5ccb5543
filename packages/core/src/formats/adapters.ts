/**
 * The AQUA-KV adapter file: a safetensors file (see ./safetensors.ts) holding, for every layer
 * l ≥ 1 that has a predictor, four F32 tensors (C = kvHeads × headDim):
 *
 *     layers.{l}.key.weight [C, C]     layers.{l}.key.bias [C]
 *     layers.{l}.value.weight [C, 2C]  layers.{l}.value.bias [C]
 *
 * and string metadata: `kvq.format` = "kvq-adapters", `kvq.version` = "1", `kvq.layout`,
 * `kvq.model`, `kvq.calibration` (JSON; calibration only when given) and `kvq.checksum` (CRC-32
 * of the data buffer — every tensor's bytes in file order — as 8 hex digits).
 */
import {
  AdapterMismatchError,
  CorruptFileError,
  DTypeError,
  InvalidArgumentError,
  ShapeError,
  UnsupportedVersionError,
} from '../errors.js';
import { type KVLayout, channels, sameLayout, validateLayout } from '../layout.js';
import type { AquaAdapters, LayerAdapter, ModelIdentity } from '../predictors/types.js';
import { assertFinite, numel } from '../tensor.js';
import { crc32, crc32Hex } from './crc32.js';
import { isPlainObject, parseJson, stringifyJson } from './json.js';
import {
  type SafetensorsTensor,
  type SafetensorsTensorInput,
  decodeSafetensors,
  encodeSafetensors,
  safetensorToFloat32,
} from './safetensors.js';

/** Value of the `kvq.format` metadata of an adapter file. */
export const ADAPTERS_FORMAT = 'kvq-adapters';
/** The adapter file versions this build reads (and the one it writes, the last). */
export const ADAPTERS_VERSIONS: readonly number[] = [1];

const WHAT = 'kvq adapters file';
const PARTS = ['key.weight', 'key.bias', 'value.weight', 'value.bias'] as const;
type Part = (typeof PARTS)[number];
const FIELD: Record<Part, keyof LayerAdapter> = {
  'key.weight': 'keyWeight',
  'key.bias': 'keyBias',
  'value.weight': 'valueWeight',
  'value.bias': 'valueBias',
};

function partShape(part: Part, c: number): number[] {
  return part === 'key.weight' ? [c, c] : part === 'value.weight' ? [c, 2 * c] : [c];
}

function describeLayout(l: KVLayout): string {
  return `{layers: ${l.layers}, queryHeads: ${l.queryHeads}, kvHeads: ${l.kvHeads}, headDim: ${l.headDim}}`;
}

function describeModel(m: ModelIdentity): string {
  return m.fingerprint === undefined ? `"${m.name}"` : `"${m.name}" (fingerprint ${m.fingerprint})`;
}

/**
 * Encodes AQUA-KV adapters as a safetensors file. Throws {@link InvalidArgumentError} for an
 * invalid layout, model identity, layer count, a predictor on layer 0, or calibration facts that
 * are not plain JSON; {@link ShapeError}/{@link DTypeError} for a tensor of the wrong size or
 * kind; {@link NonFiniteError} for NaN/±Inf weights.
 */
export function encodeAdapters(adapters: AquaAdapters): Uint8Array {
  if (typeof adapters !== 'object' || adapters === null)
    throw new InvalidArgumentError('adapters must be an object');
  const { layout, model, layers, calibration } = adapters;
  if (typeof layout !== 'object' || layout === null)
    throw new InvalidArgumentError('adapters.layout is missing');
  validateLayout(layout);
  validateModel(model, (m) => new InvalidArgumentError(`adapters.model: ${m}`));
  if (!Array.isArray(layers) || layers.length !== layout.layers) {
    throw new InvalidArgumentError(
      `adapters.layers must have one entry per layer (${layout.layers}), got ${Array.isArray(layers) ? layers.length : typeof layers}`,
    );
  }
  if (layers[0] !== null)
    throw new InvalidArgumentError('adapters.layers[0] must be null: layer 0 has no predictor');
  if (calibration !== undefined) {
    if (!isPlainObject(calibration))
      throw new InvalidArgumentError('adapters.calibration must be a plain object');
  }
  const c = channels(layout);
  const tensors: Record<string, SafetensorsTensorInput> = {};
  layers.forEach((layer, l) => {
    if (layer === null) return;
    for (const part of PARTS) {
      const data = layer?.[FIELD[part]];
      const shape = partShape(part, c);
      const what = `adapters.layers[${l}].${FIELD[part]}`;
      if (!(data instanceof Float32Array)) {
        const got = data === null ? 'null' : ((data as object)?.constructor?.name ?? typeof data);
        throw new DTypeError(what, 'Float32Array', got);
      }
      if (data.length !== numel(shape)) throw new ShapeError(what, shape, [data.length]);
      assertFinite(what, data);
      tensors[`layers.${l}.${part}`] = { dtype: 'F32', shape, data };
    }
  });
  const model_: ModelIdentity =
    model.fingerprint === undefined
      ? { name: model.name }
      : { name: model.name, fingerprint: model.fingerprint };
  const metadata: Record<string, string> = {
    'kvq.format': ADAPTERS_FORMAT,
    'kvq.version': String(ADAPTERS_VERSIONS[ADAPTERS_VERSIONS.length - 1]),
    'kvq.layout': JSON.stringify({
      layers: layout.layers,
      queryHeads: layout.queryHeads,
      kvHeads: layout.kvHeads,
      headDim: layout.headDim,
    }),
    'kvq.model': JSON.stringify(model_),
  };
  if (calibration !== undefined)
    metadata['kvq.calibration'] = stringifyJson('adapters.calibration', calibration);
  // the checksum covers the data buffer, which the encoder lays out deterministically: encode
  // once without it, then again with it (tensor bytes do not depend on the metadata)
  const draft = decodeSafetensors(encodeSafetensors(tensors, metadata));
  metadata['kvq.checksum'] = crc32Hex(crc32(draft.dataBytes));
  return encodeSafetensors(tensors, metadata);
}

function validateModel(m: unknown, err: (msg: string) => Error): asserts m is ModelIdentity {
  if (!isPlainObject(m)) throw err('must be an object { name, fingerprint? }');
  if (typeof m.name !== 'string' || m.name === '') throw err('name must be a non-empty string');
  if (m.fingerprint !== undefined && typeof m.fingerprint !== 'string')
    throw err('fingerprint must be a string');
  for (const k of Object.keys(m)) if (k !== 'name' && k !== 'fingerprint') throw err(`unknown field "${k}"`);
}

function corrupt(detail: string): never {
  throw new CorruptFileError(WHAT, detail);
}

function metaJson(meta: Readonly<Record<string, string>>, key: string): unknown {
  const s = meta[key];
  if (s === undefined) corrupt(`metadata "${key}" is missing`);
  return parseJson(`${WHAT} metadata "${key}"`, s);
}

/** What a loaded adapter file must match; a mismatch → {@link AdapterMismatchError}. */
export interface AdapterExpectation {
  /** the cache layout the adapters will be used with */
  readonly layout?: KVLayout;
  /** the model; names must be equal, and fingerprints too when both sides have one */
  readonly model?: ModelIdentity;
}

/**
 * Decodes an adapter file written by {@link encodeAdapters}; the weights are new Float32Arrays.
 *
 * Errors: not a safetensors file, not a kvq adapter file, checksum mismatch, missing or malformed
 * metadata, missing/extra/mis-shaped tensors, NaN/±Inf weights → {@link CorruptFileError}; a
 * `kvq.version` this build does not read → {@link UnsupportedVersionError}; adapters fitted for
 * another layout or model than `expect` → {@link AdapterMismatchError} (expected vs found).
 */
export function decodeAdapters(bytes: Uint8Array, expect?: AdapterExpectation): AquaAdapters {
  const file = decodeSafetensors(bytes);
  const meta = file.metadata;
  if (meta['kvq.format'] !== ADAPTERS_FORMAT) {
    corrupt(
      `metadata "kvq.format" is ${meta['kvq.format'] === undefined ? 'missing' : JSON.stringify(meta['kvq.format'])}, expected "${ADAPTERS_FORMAT}": not a kvq adapter file`,
    );
  }
  const vs = meta['kvq.version'];
  if (vs === undefined || !/^(0|[1-9][0-9]{0,8})$/.test(vs)) {
    corrupt(
      `metadata "kvq.version" is ${vs === undefined ? 'missing' : JSON.stringify(vs)}, expected an integer`,
    );
  }
  const version = Number(vs);
  if (!ADAPTERS_VERSIONS.includes(version))
    throw new UnsupportedVersionError(WHAT, version, ADAPTERS_VERSIONS);
  const stored = meta['kvq.checksum'];
  const actual = crc32Hex(crc32(file.dataBytes));
  if (stored !== actual) {
    corrupt(
      stored === undefined
        ? 'metadata "kvq.checksum" is missing'
        : `checksum mismatch (stored ${stored}, computed ${actual})`,
    );
  }

  const layoutJson = metaJson(meta, 'kvq.layout');
  if (!isPlainObject(layoutJson)) corrupt('metadata "kvq.layout" is not a JSON object');
  const layout: KVLayout = {
    layers: layoutJson.layers as number,
    queryHeads: layoutJson.queryHeads as number,
    kvHeads: layoutJson.kvHeads as number,
    headDim: layoutJson.headDim as number,
  };
  try {
    validateLayout(layout);
  } catch (e) {
    corrupt(`metadata "kvq.layout" is invalid: ${(e as Error).message}`);
  }
  const modelJson = metaJson(meta, 'kvq.model');
  validateModel(modelJson, (m) => new CorruptFileError(WHAT, `metadata "kvq.model": ${m}`));
  const model: ModelIdentity =
    modelJson.fingerprint === undefined
      ? { name: modelJson.name }
      : { name: modelJson.name, fingerprint: modelJson.fingerprint };
  let calibration: Record<string, unknown> | undefined;
  if (meta['kvq.calibration'] !== undefined) {
    const cal = metaJson(meta, 'kvq.calibration');
    if (!isPlainObject(cal)) corrupt('metadata "kvq.calibration" is not a JSON object');
    calibration = cal;
  }

  if (expect?.layout !== undefined && !sameLayout(expect.layout, layout)) {
    throw new AdapterMismatchError(
      `adapters were fitted for layout ${describeLayout(layout)} (model ${describeModel(model)}), expected layout ${describeLayout(expect.layout)}`,
    );
  }
  if (expect?.model !== undefined) {
    const e = expect.model;
    const fpDiffers =
      e.fingerprint !== undefined && model.fingerprint !== undefined && e.fingerprint !== model.fingerprint;
    if (e.name !== model.name || fpDiffers) {
      throw new AdapterMismatchError(
        `adapters were fitted for model ${describeModel(model)}, expected model ${describeModel(e)}`,
      );
    }
  }

  const layers = readLayers(file.tensors, layout);
  return calibration === undefined ? { layout, model, layers } : { layout, model, layers, calibration };
}

function readLayers(
  tensors: Readonly<Record<string, SafetensorsTensor>>,
  layout: KVLayout,
): (LayerAdapter | null)[] {
  const c = channels(layout);
  const names = new Set(Object.keys(tensors));
  const layers: (LayerAdapter | null)[] = [null];
  for (let l = 1; l < layout.layers; l++) {
    const present = PARTS.filter((p) => names.has(`layers.${l}.${p}`));
    if (present.length === 0) {
      layers.push(null);
      continue;
    }
    if (present.length !== PARTS.length) {
      const missing = PARTS.filter((p) => !present.includes(p)).map((p) => `layers.${l}.${p}`);
      corrupt(`layer ${l} is incomplete: missing ${missing.join(', ')}`);
    }
    const adapter: Partial<Record<keyof LayerAdapter, Float32Array>> = {};
    for (const part of PARTS) {
      const name = `layers.${l}.${part}`;
      const t = tensors[name]!;
      names.delete(name);
      const shape = partShape(part, c);
      if (t.dtype !== 'F32') corrupt(`tensor "${name}" has dtype ${t.dtype}, expected F32`);
      if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
        corrupt(
          `tensor "${name}" has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}] for C = ${c}`,
        );
      }
      const data = safetensorToFloat32(t);
      for (let i = 0; i < data.length; i++) {
        if (!Number.isFinite(data[i]!))
          corrupt(`tensor "${name}" holds a non-finite value ${data[i]} at index ${i}`);
      }
      adapter[FIELD[part]] = data;
    }
    layers.push(adapter as LayerAdapter);
  }
  if (names.size > 0) {
    const extra = [...names].slice(0, 5).map((n) => `"${n}"`);
    corrupt(
      `unexpected tensor${names.size > 1 ? 's' : ''} ${extra.join(', ')}${names.size > 5 ? ', ...' : ''}`,
    );
  }
  return layers;
}
