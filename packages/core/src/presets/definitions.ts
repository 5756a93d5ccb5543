import { defaultPolicy } from '../cache/policy.js';
import type { LayerQuantizers, PresetConfig } from '../cache/types.js';
import { higgsUnbiasedGain } from '../quantizers/grid-gain.js';
import type { QuantizerSpec } from '../quantizers/spec.js';

const uniform = (bits: number, axis: 'channel' | 'token', groupSize = 32): QuantizerSpec => ({
  kind: 'uniform',
  bits,
  axis,
  groupSize,
});

/** KIVI's split: keys per channel (groups of 32 tokens), values per token (groups of 32 channels). */
const kivi = (kBits: number, vBits: number): LayerQuantizers => ({
  keys: uniform(kBits, 'channel'),
  values: uniform(vBits, 'token'),
});

/**
 * HIGGS residual quantizer: per-token Hadamard blocks of 128 channels, 2-D Gaussian grid (1-D for
 * 1, 3.5+ bits), with the slope-unbiased stored-scale gain 1/(1 − D) (see `higgsUnbiasedGain`):
 * without it a Lloyd-Max/k-means grid attenuates every reconstructed value by (1 − D) on
 * average, which flattens attention logits q·k̃ and damps values.
 */
const higgs = (
  bits: number,
  seed: number,
  dim: 1 | 2 = bits === 1 || bits > 3 ? 1 : 2,
  block = 128,
): QuantizerSpec => ({
  kind: 'higgs',
  bits,
  dim,
  block,
  seed,
  scaleGain: Math.round(higgsUnbiasedGain(bits, dim) * 1e6) / 1e6,
});

const higgsKV = (kBits: number, vBits: number): LayerQuantizers => ({
  keys: higgs(kBits, 0x6b),
  values: higgs(vBits, 0x76),
});

/** kvq-2's per-layer [key, value] widths (see the preset). */
const KVQ2_WIDTHS: readonly (readonly [number, number])[] = [
  [3, 3],
  [2, 1.5],
  [1.5, 1.5],
  [1, 1.5],
  [1.5, 1.5],
  [2, 1.5],
  [2, 1.5],
  [2, 2],
  [2, 2],
  [2, 2],
  [2, 2],
  [2, 2],
];

/** AQUA-KV's layer 0: no predictor, quantized at 4 bits. */
const aquaLayer0 = higgsKV(4, 4);

/** The built-in presets. `bitsPerValue` of each, for a layout, comes from {@link presetBitsPerValue}. */
export const BUILTIN_PRESETS: readonly PresetConfig[] = [
  {
    name: 'fp16',
    description: 'fp16 storage of keys and values (the reference)',
    quantizers: { keys: { kind: 'fp16' }, values: { kind: 'fp16' } },
    predictor: 'none',
    policy: defaultPolicy,
  },
  {
    name: 'fp8',
    description: 'fp8 e4m3 storage, no scales',
    quantizers: { keys: { kind: 'fp8', format: 'e4m3' }, values: { kind: 'fp8', format: 'e4m3' } },
    predictor: 'none',
    policy: defaultPolicy,
  },
  {
    name: 'kivi-4',
    description: 'KIVI 4-bit: keys per channel, values per token, uniform, groups of 32',
    quantizers: kivi(4, 4),
    predictor: 'none',
    policy: defaultPolicy,
  },
  {
    name: 'kivi-2',
    description: 'KIVI 2-bit: keys per channel, values per token, uniform, groups of 32',
    quantizers: kivi(2, 2),
    predictor: 'none',
    policy: defaultPolicy,
  },
  {
    name: 'k4v2',
    description: 'KV-AdaQuant: 4-bit keys, 2-bit values (KIVI grouping)',
    quantizers: kivi(4, 2),
    predictor: 'none',
    policy: defaultPolicy,
  },
  {
    name: 'k2v4',
    description: 'KV-AdaQuant counter-example: 2-bit keys, 4-bit values (KIVI grouping)',
    quantizers: kivi(2, 4),
    predictor: 'none',
    policy: defaultPolicy,
  },
  {
    name: 'qaq',
    description:
      'QAQ-style: non-uniform (Lloyd-Max) codebooks, keys 3-bit per channel (mean-centred) and values 2-bit per token, 1 outlier per token kept in fp16, attention-aware: the 10% most attended blocks at 4/3 bits',
    quantizers: {
      keys: {
        kind: 'outliers',
        axis: 'token',
        count: 1,
        inner: { kind: 'codebook', bits: 3, axis: 'channel', groupSize: 32, norm: 'meanrms' },
      },
      values: {
        kind: 'outliers',
        axis: 'token',
        count: 1,
        inner: { kind: 'codebook', bits: 2, axis: 'token', groupSize: 32, norm: 'rms' },
      },
    },
    attentionAware: {
      fraction: 0.1,
      quantizers: {
        keys: {
          kind: 'outliers',
          axis: 'token',
          count: 1,
          inner: { kind: 'codebook', bits: 4, axis: 'channel', groupSize: 32, norm: 'meanrms' },
        },
        values: {
          kind: 'outliers',
          axis: 'token',
          count: 1,
          inner: { kind: 'codebook', bits: 3, axis: 'token', groupSize: 32, norm: 'rms' },
        },
      },
    },
    predictor: 'none',
    policy: defaultPolicy,
  },
  {
    name: 'aqua-3',
    description:
      'AQUA-KV: linear predictors + HIGGS residuals (keys 3-bit, values 2.5-bit 2-D grid), layer 0 at 4 bits',
    quantizers: higgsKV(3, 2.5),
    layerQuantizers: [aquaLayer0],
    predictor: 'aqua',
    policy: defaultPolicy,
  },
  {
    name: 'aqua-2.5',
    description:
      'AQUA-KV: linear predictors + HIGGS residuals (keys 2.5-bit, values 2-bit 2-D grid), layer 0 at 3 bits (4 would exceed 2.5 bits/value)',
    quantizers: higgsKV(2.5, 2),
    layerQuantizers: [higgsKV(3, 3)],
    predictor: 'aqua',
    policy: defaultPolicy,
  },
  {
    name: 'aqua-2',
    description: 'AQUA-KV: linear predictors + HIGGS 1.5-bit 2-D residuals, layer 0 at 4 bits',
    quantizers: higgsKV(1.5, 1.5),
    layerQuantizers: [aquaLayer0],
    predictor: 'aqua',
    policy: defaultPolicy,
  },
  {
    name: 'kvq-2',
    description:
      'kvq combined at ≤ 2 bits/value: AQUA residuals, slope-unbiased HIGGS, more bits for keys than values, and per-layer key/value widths from the greedy allocation on measured error (allocateBits, budget 2.0)',
    quantizers: higgsKV(2, 1.5),
    // Output of `node packages/calibrate/scripts/kvq2-study.mjs` (allocateBits on 12288 tokens of
    // War and Peace, keyWeight 2, widths 1–4 bits): keys/values bits per layer.
    layerQuantizers: KVQ2_WIDTHS.map(([k, v]) => higgsKV(k, v)),
    predictor: 'aqua',
    policy: defaultPolicy,
  },
];
