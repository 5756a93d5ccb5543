import type { PresetConfig } from '@kvq/core';

// AQUA presets for the synthetic fit tests: residuals quantized to fp16 or to 3-bit uniform groups of 16
// tokens, no sinks, a 64-token fp16 buffer.

const policy = { sinkTokens: 0, bufferTokens: 64 };

/** fp16 residuals: with fp16-exact inputs the reconstructed inputs are the true ones, so planted maps are recoverable */
export const fp16Residuals: PresetConfig = {
  name: 'test-aqua-fp16',
  description: 'fp16 residuals',
  quantizers: { keys: { kind: 'fp16' }, values: { kind: 'fp16' } },
  predictor: 'aqua',
  policy,
};

/** uniform 3-bit residuals (token axis, groups of 16) */
export const uniform3Residuals: PresetConfig = {
  name: 'test-aqua-u3',
  description: 'uniform 3-bit residuals',
  quantizers: {
    keys: { kind: 'uniform', bits: 3, axis: 'token', groupSize: 16 },
    values: { kind: 'uniform', bits: 3, axis: 'token', groupSize: 16 },
  },
  predictor: 'aqua',
  policy,
};
