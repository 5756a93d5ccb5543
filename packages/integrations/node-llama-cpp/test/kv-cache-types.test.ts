import { InvalidArgumentError } from '@kvq/core';
import { describe, expect, it } from 'vitest';
import { chooseKvCacheTypes, kvCacheBytesPerToken, kvTypeBits } from '../src/index.js';

const REF = { layers: 12, queryHeads: 8, kvHeads: 2, headDim: 64 }; // kvq-ref-35M
const TINY = { layers: 5, queryHeads: 8, kvHeads: 4, headDim: 8 }; // stories260K

describe('llama.cpp K/V cache types', () => {
  it('bytes per token from ggml block sizes', () => {
    expect(kvCacheBytesPerToken('f16', 'f16', REF)).toBe(12 * 2 * 128 * 2);
    expect(kvCacheBytesPerToken('q8_0', 'q4_0', REF)).toBe(12 * (4 * 34 + 4 * 18));
    expect(kvTypeBits('q8_0')).toBe(8.5);
    expect(kvTypeBits('q4_0')).toBe(4.5);
    expect(() => kvCacheBytesPerToken('q4_0', 'q4_0', TINY)).toThrow(/head dim divisible by 32/);
  });
  it('chooses the most precise pair that fits the budget, keys never below values', () => {
    const perF16 = kvCacheBytesPerToken('f16', 'f16', REF);
    expect(
      chooseKvCacheTypes({ budgetBytes: 4096 * perF16, contextTokens: 4096, layout: REF }),
    ).toMatchObject({
      keyType: 'f16',
      valueType: 'f16',
    });
    const c = chooseKvCacheTypes({ budgetBytes: 0.45 * 4096 * perF16, contextTokens: 4096, layout: REF });
    expect([c.keyType, c.valueType]).toEqual(['q5_1', 'q5_1']);
    expect(c.bytes).toBeLessThanOrEqual(0.45 * 4096 * perF16);
    expect(c.contextOptions).toEqual({
      experimentalKvCacheKeyType: 'Q5_1',
      experimentalKvCacheValueType: 'Q5_1',
      flashAttention: true,
    });
    expect(kvTypeBits(c.keyType)).toBeGreaterThanOrEqual(kvTypeBits(c.valueType));
    expect(() => chooseKvCacheTypes({ budgetBytes: 1000, contextTokens: 4096, layout: REF })).toThrow(
      InvalidArgumentError,
    );
    // without flash attention llama.cpp refuses a quantized V: only f16/f16 remains
    expect(
      chooseKvCacheTypes({
        budgetBytes: 4096 * perF16,
        contextTokens: 4096,
        layout: REF,
        flashAttention: false,
      }).contextOptions,
    ).toEqual({ experimentalKvCacheKeyType: 'F16', experimentalKvCacheValueType: 'F16' });
    expect(() =>
      chooseKvCacheTypes({
        budgetBytes: 0.45 * 4096 * perF16,
        contextTokens: 4096,
        layout: REF,
        flashAttention: false,
      }),
    ).toThrow(/without flash attention/);
    // a head dim of 8: only f16 is possible
    expect(chooseKvCacheTypes({ budgetBytes: 1e9, contextTokens: 512, layout: TINY }).keyType).toBe('f16');
    expect(() => chooseKvCacheTypes({ budgetBytes: 1000, contextTokens: 512, layout: TINY })).toThrow(
      /no K\/V cache types fit/,
    );
  });
});
