import type { LayerQuantizers, PresetConfig } from '../cache/types.js';
import { InvalidArgumentError, UnknownPresetError } from '../errors.js';
import { type KVLayout, validateLayout } from '../layout.js';
import { createQuantizer } from '../quantizers/factory.js';
import { BUILTIN_PRESETS } from './definitions.js';

const byName = new Map(BUILTIN_PRESETS.map((p) => [p.name, p]));

/** The built-in preset of that name; {@link UnknownPresetError} lists the known ones otherwise. */
export function getPreset(name: string): PresetConfig {
  const p = byName.get(name);
  if (!p) throw new UnknownPresetError(name, [...byName.keys()]);
  return p;
}

/** Every built-in preset. */
export function listPresets(): readonly PresetConfig[] {
  return BUILTIN_PRESETS;
}

/** The quantizers of `layer` under `preset` (its override, else the default). */
export function layerQuantizers(preset: PresetConfig, layer: number): LayerQuantizers {
  return preset.layerQuantizers?.[layer] ?? preset.quantizers;
}

/** Exact bits per value of a preset for a layout, per part. */
export interface PresetBits {
  /** keys, averaged over layers */
  readonly bitsK: number;
  readonly bitsV: number;
  /** all encoded values */
  readonly bitsPerValue: number;
}

/**
 * The exact bits per cached value that grow with the context (codes, scales, zero points,
 * outliers), for blocks of `blockTokens` tokens (default: the preset's buffer, else 128): the
 * limit of a cache's `storedBitsPerValue` as its length grows. Attention-aware presets are counted
 * at their default precision plus `fraction` of blocks at the higher one.
 */
export function presetBitsPerValue(preset: PresetConfig, layout: KVLayout, blockTokens?: number): PresetBits {
  validateLayout(layout);
  const t = blockTokens ?? (preset.policy.bufferTokens > 0 ? preset.policy.bufferTokens : 128);
  if (!Number.isInteger(t) || t <= 0)
    throw new InvalidArgumentError(`blockTokens must be a positive integer, got ${t}`);
  const shape = { tokens: t, kvHeads: layout.kvHeads, headDim: layout.headDim };
  const values = t * layout.kvHeads * layout.headDim;
  let kBytes = 0;
  let vBytes = 0;
  for (let l = 0; l < layout.layers; l++) {
    const q = layerQuantizers(preset, l);
    let k = createQuantizer(q.keys).encodedBytes(shape);
    let v = createQuantizer(q.values).encodedBytes(shape);
    if (preset.attentionAware) {
      const f = preset.attentionAware.fraction;
      k = (1 - f) * k + f * createQuantizer(preset.attentionAware.quantizers.keys).encodedBytes(shape);
      v = (1 - f) * v + f * createQuantizer(preset.attentionAware.quantizers.values).encodedBytes(shape);
    }
    kBytes += k;
    vBytes += v;
  }
  const n = values * layout.layers;
  return {
    bitsK: (kBytes * 8) / n,
    bitsV: (vBytes * 8) / n,
    bitsPerValue: ((kBytes + vBytes) * 8) / (2 * n),
  };
}
