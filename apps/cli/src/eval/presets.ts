import * as core from '@kvq/core';
import { MissingAdaptersError } from '@kvq/core';
import type { AquaAdapters, CacheOptions, CachePolicy, KVCache, KVLayout, PresetConfig } from '@kvq/core';
import { ArrayKVCache, type EvalCacheSpec } from '@kvq/decoder';
import { CliError } from '../errors.js';

/** The evaluation protocol of DESIGN.md: 32-token chunks, 4 fp16 sinks, 128-token fp16 buffer. */
export const PROTOCOL = { chunk: 32, sinkTokens: 4, bufferTokens: 128 } as const;
/** The strict protocol: no fp16 buffer, only the sinks in full precision. */
export const STRICT_POLICY: CachePolicy = { sinkTokens: PROTOCOL.sinkTokens, bufferTokens: 0 };
/** The paper's policy, applied to every evaluated cache. */
export const PAPER_POLICY: CachePolicy = {
  sinkTokens: PROTOCOL.sinkTokens,
  bufferTokens: PROTOCOL.bufferTokens,
};
/** The extra name for the decoder's uncompressed fp32 array cache. */
export const FP32_ARRAY = 'fp32';

interface CacheApi {
  createCache: (options: CacheOptions) => KVCache;
  getPreset: (name: string) => PresetConfig;
}

/** @kvq/core's cache API (createCache/getPreset), or a CliError saying this core build lacks it. */
function cacheApi(): CacheApi {
  const api = core as unknown as Partial<CacheApi>;
  if (typeof api.createCache !== 'function' || typeof api.getPreset !== 'function') {
    throw new CliError(
      'this build of @kvq/core has no compressed cache yet (createCache/getPreset are missing)',
      `only --presets ${FP32_ARRAY} (the decoder's uncompressed array cache) can run`,
    );
  }
  return api as CacheApi;
}

/**
 * Turns preset names into cache factories for the evaluation: the fp16 preset is the reference
 * (run first, added when not listed); every cache gets the protocol's policy (`strict`: no buffer).
 * Presets are resolved before anything runs, so an unknown name or missing adapters fail at once.
 */
export function cacheSpecs(
  names: readonly string[],
  layout: KVLayout,
  opts: { strict: boolean; adapters?: AquaAdapters },
): { reference: EvalCacheSpec; caches: EvalCacheSpec[]; policy: CachePolicy } {
  const policy = opts.strict ? STRICT_POLICY : PAPER_POLICY;
  const unique = [...new Set(names)];
  const make = (name: string): EvalCacheSpec => {
    if (name === FP32_ARRAY) return { name, create: () => new ArrayKVCache(layout) };
    const { createCache, getPreset } = cacheApi();
    const preset = getPreset(name);
    if (preset.predictor === 'aqua' && !opts.adapters) throw new MissingAdaptersError(name);
    const options: CacheOptions = { layout, preset, policy, adapters: opts.adapters };
    createCache(options).dispose(); // fail now (unknown preset, missing adapters), not after the reference run
    return { name, create: () => createCache(options) };
  };
  const hasCore = unique.some((n) => n !== FP32_ARRAY);
  const referenceName = hasCore || !unique.includes(FP32_ARRAY) ? 'fp16' : FP32_ARRAY;
  const caches = unique.filter((n) => n !== referenceName).map(make);
  return { reference: make(referenceName), caches, policy };
}
