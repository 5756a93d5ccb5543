import type { QuantizerSpec } from '../../src/index.js';

/** One spec of every kind and variant, for the checks every quantizer must pass. */
export const ALL_SPECS: QuantizerSpec[] = [
  { kind: 'fp16' },
  { kind: 'bf16' },
  { kind: 'fp8', format: 'e4m3' },
  { kind: 'uniform', bits: 2, axis: 'channel', groupSize: 32 },
  { kind: 'uniform', bits: 4, axis: 'token', groupSize: 64 },
  { kind: 'uniform', bits: 3, axis: 'channel', groupSize: 5 },
  { kind: 'uniform', bits: 8, axis: 'token', groupSize: 16 },
  { kind: 'uniform', bits: 1, axis: 'token', groupSize: 32 },
];
ALL_SPECS.push(
  { kind: 'codebook', bits: 2, axis: 'channel', groupSize: 32, norm: 'rms' },
  { kind: 'codebook', bits: 3, axis: 'token', groupSize: 64, norm: 'absmax' },
  { kind: 'codebook', bits: 1, axis: 'token', groupSize: 16, norm: 'rms', codebook: [-0.5, 0.75] },
  { kind: 'codebook', bits: 8, axis: 'channel', groupSize: 7, norm: 'absmax' },
  { kind: 'higgs', bits: 2, dim: 1, block: 64, seed: 1 },
  { kind: 'higgs', bits: 4, dim: 1, block: 32, seed: 2 },
  { kind: 'higgs', bits: 1.5, dim: 2, block: 64, seed: 3 },
  { kind: 'higgs', bits: 2.5, dim: 2, block: 16, seed: 4 },
  { kind: 'higgs', bits: 3, dim: 2, block: 64, seed: 5 },
);
ALL_SPECS.push(
  {
    kind: 'outliers',
    axis: 'token',
    count: 4,
    inner: { kind: 'uniform', bits: 2, axis: 'token', groupSize: 32 },
  },
  {
    kind: 'outliers',
    axis: 'channel',
    count: 2,
    inner: { kind: 'uniform', bits: 2, axis: 'channel', groupSize: 32 },
  },
  {
    kind: 'outliers',
    axis: 'token',
    count: 1,
    inner: { kind: 'higgs', bits: 2.5, dim: 2, block: 64, seed: 9 },
  },
  {
    kind: 'outliers',
    axis: 'channel',
    count: 8,
    inner: { kind: 'codebook', bits: 3, axis: 'token', groupSize: 64, norm: 'rms' },
  },
  { kind: 'outliers', axis: 'token', count: 0, inner: { kind: 'fp8', format: 'e4m3' } },
);
