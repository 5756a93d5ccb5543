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
