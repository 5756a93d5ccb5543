import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, channels, validateLayout } from '../src/index.js';

describe('layout', () => {
  it('accepts a GQA layout and counts channels', () => {
    const l = validateLayout({ layers: 12, queryHeads: 8, kvHeads: 2, headDim: 64 });
    expect(channels(l)).toBe(128);
  });
  it('rejects query heads that are not a multiple of kv heads', () => {
    expect(() => validateLayout({ layers: 1, queryHeads: 3, kvHeads: 2, headDim: 8 })).toThrow(
      InvalidArgumentError,
    );
  });
});
