import {
  type AquaAdapters,
  type CacheOptions,
  type CachePolicy,
  type KVLayout,
  MissingAdaptersError,
  createCache,
  defaultPolicy,
  getPreset,
  strictPolicy,
} from '@kvq/core';
import { ArrayKVCache, type EvalCacheSpec } from '@kvq/decoder';

/** The evaluation protocol of DESIGN.md: 32-token chunks, 4 fp16 sinks, 128-token fp16 buffer. */
export const PROTOCOL = {
  chunk: 32,
  sinkTokens: defaultPolicy.sinkTokens,
  bufferTokens: defaultPolicy.bufferTokens,
} as const;
/** The extra name for the decoder's uncompressed fp32 array cache. */
export const FP32_ARRAY = 'fp32';

/**
 * Turns preset names into cache factories for the evaluation: the fp16 preset is the reference
 * (run first, added when not listed); every cache gets the protocol's policy (`strict`: no
 * buffer, only the sinks). Presets are resolved before anything runs, so an unknown name or
 * missing adapters fail at once.
 */
export function cacheSpecs(
  names: readonly string[],
  layout: KVLayout,
  opts: { strict: boolean; adapters?: AquaAdapters | ReadonlyMap<string, AquaAdapters> },
): { reference: EvalCacheSpec; caches: EvalCacheSpec[]; policy: CachePolicy } {
  const policy = opts.strict ? strictPolicy : defaultPolicy;
  const unique = [...new Set(names)];
  const make = (name: string): EvalCacheSpec => {
    if (name === FP32_ARRAY) return { name, create: () => new ArrayKVCache(layout) };
    const preset = getPreset(name);
    const adapters =
      opts.adapters instanceof Map ? opts.adapters.get(name) : (opts.adapters as AquaAdapters | undefined);
    if (preset.predictor === 'aqua' && !adapters) throw new MissingAdaptersError(name);
    const options: CacheOptions = { layout, preset, policy, adapters };
    createCache(options).dispose(); // fail now (bad layout, adapters), not after the reference run
    return { name, create: () => createCache(options) };
  };
  const hasCore = unique.some((n) => n !== FP32_ARRAY);
  const referenceName = hasCore || !unique.includes(FP32_ARRAY) ? 'fp16' : FP32_ARRAY;
  const caches = unique.filter((n) => n !== referenceName).map(make);
  return { reference: make(referenceName), caches, policy };
}
