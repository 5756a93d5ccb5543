import {
  type AquaAdapters,
  type CachePolicy,
  type KVLayout,
  type PresetConfig,
  defaultPolicy,
  getPreset,
  presetBitsPerValue,
  strictPolicy,
} from '@kvq/core';

/** Presets offered for every model (no adapters needed), in the order the page lists them. */
export const BASE_PRESETS = ['fp16', 'fp8', 'kivi-4', 'kivi-2', 'k4v2', 'k2v4', 'qaq'] as const;
/** AQUA-KV presets: offered only when adapters fitted for the loaded model are available. */
export const AQUA_PRESETS = ['aqua-3', 'aqua-2.5', 'aqua-2', 'kvq-2'] as const;

/** The cache policies the page offers. */
export type PolicyName = 'strict' | 'buffer32' | 'aqua-kv';

/** The policy of each choice: which tokens stay in fp16. */
export const POLICIES: Readonly<Record<PolicyName, CachePolicy & { readonly label: string }>> = {
  strict: { ...strictPolicy, label: 'strict: 4 fp16 sinks, every appended chunk compressed at once' },
  buffer32: {
    sinkTokens: 4,
    bufferTokens: 32,
    label: '4 fp16 sinks + 32-token fp16 buffer, compressed in blocks of 32',
  },
  'aqua-kv': { ...defaultPolicy, label: 'AQUA-KV protocol: 4 fp16 sinks + 128-token fp16 buffer' },
};

/** Whether `name` is one of {@link POLICIES}. */
export function isPolicyName(name: string): name is PolicyName {
  return Object.hasOwn(POLICIES, name);
}

/** A preset as the page shows it. */
export interface PresetChoice {
  readonly name: string;
  readonly description: string;
  readonly predictor: 'none' | 'aqua';
  /** false for AQUA presets without adapters for the loaded model */
  readonly available: boolean;
  /** why it is unavailable */
  readonly reason?: string;
}

/**
 * The presets for a model: the base ones always, the AQUA ones marked available only when
 * `adapters` holds adapters for them (and unavailable with `aquaReason` otherwise).
 */
export function presetChoices(
  adapters: ReadonlyMap<string, AquaAdapters>,
  aquaReason = 'no AQUA-KV adapters for this model',
): PresetChoice[] {
  const out: PresetChoice[] = [];
  for (const name of [...BASE_PRESETS, ...AQUA_PRESETS]) {
    const p = getPreset(name);
    const needs = p.predictor === 'aqua';
    const available = !needs || adapters.has(name);
    out.push({
      name,
      description: p.description,
      predictor: p.predictor,
      available,
      ...(available ? {} : { reason: aquaReason }),
    });
  }
  return out;
}

/**
 * The bits/value a preset's encoded blocks take for `layout` when the policy compresses blocks of
 * `blockTokens` (what `cache.stats().bitsPerValue` reports once blocks of that size exist).
 */
export function expectedBitsPerValue(
  preset: PresetConfig | string,
  layout: KVLayout,
  blockTokens: number,
): number {
  const p = typeof preset === 'string' ? getPreset(preset) : preset;
  return presetBitsPerValue(p, layout, blockTokens).bitsPerValue;
}
