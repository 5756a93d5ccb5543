/**
 * `createQuantizer(spec)`: the CPU reference quantizer a spec describes.
 */
import { InvalidArgumentError } from '../errors.js';
import { CodebookQuantizer } from './codebook.js';
import { Fp8Quantizer } from './fp8.js';
import { HiggsQuantizer } from './higgs.js';
import { OutlierQuantizer } from './outliers.js';
import { PassthroughQuantizer } from './passthrough.js';
import type { QuantizerSpec } from './spec.js';
import type { Quantizer } from './types.js';
import { UniformQuantizer } from './uniform.js';

/**
 * Builds the CPU reference quantizer for `spec`. Throws {@link InvalidArgumentError} when the
 * spec is invalid (bits out of range, bad group size, unknown kind...).
 */
export function createQuantizer(spec: QuantizerSpec): Quantizer {
  if (spec === null || typeof spec !== 'object')
    throw new InvalidArgumentError(`quantizer spec must be an object, got ${String(spec)}`);
  switch (spec.kind) {
    case 'fp16':
    case 'bf16':
      return new PassthroughQuantizer(spec);
    case 'fp8':
      return new Fp8Quantizer(spec);
    case 'uniform':
      return new UniformQuantizer(spec);
    case 'codebook':
      return new CodebookQuantizer(spec);
    case 'higgs':
      return new HiggsQuantizer(spec);
    case 'outliers':
      if (spec.inner === null || typeof spec.inner !== 'object') {
        throw new InvalidArgumentError('outliers: inner quantizer spec is missing');
      }
      return new OutlierQuantizer(spec, createQuantizer(spec.inner));
    default:
      throw new InvalidArgumentError(
        `quantizer kind "${String((spec as { kind?: unknown }).kind)}" is not implemented`,
      );
  }
}
