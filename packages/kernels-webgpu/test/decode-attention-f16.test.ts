import { InvalidArgumentError, type QuantizerSpec, SeededRandom, UnsupportedOpError } from '@kvq/core';
import { afterAll, describe, expect, it } from 'vitest';
import { dawnCreateFlags } from '../src/context.js';
import {
  DecodeAttention,
  type GpuContext,
  GpuKvTensor,
  TP_F16_BITS,
  createGpuContext,
  tpF16Unsupported,
} from '../src/index.js';
import { f16PairChannels, f16PairShift } from '../src/kernels/decode-attention-tp.wgsl.js';
import type { KvTileFormat } from '../src/kernels/decode-attention.wgsl.js';
import { probe, sharedBackend, title } from './gpu.js';

/** f16 bit pattern → number (normal halves only, as the pair extraction produces) */
const half = (h: number) => 2 ** (((h >>> 10) & 31) - 15) * (1 + (h & 1023) / 1024) * (h & 0x8000 ? -1 : 1);

const uni = (bits: number, axis: 'channel' | 'token'): KvTileFormat => ({
  kind: 'uniform',
  bits,
  axis,
  groupSize: 128,
  blockTokens: 128,
  nGroups: 1,
  blockWords: 1,
});

describe('packed-f16 decode attention: code pairs and what it reads (no GPU)', () => {
  it('each code pair comes out of one shift and mask as 1 + code·2^-bits, at the channels the kernel folds the query for', () => {
    const rng = new SeededRandom(3);
    for (const bits of TP_F16_BITS) {
      const D = 128;
      const seen = new Set<number>();
      for (let rep = 0; rep < 20; rep++) {
        // pack random codes as the encoder does: channel ch at bit (ch·bits) % 32 of word ⌊ch·bits/32⌋
        const codes = Array.from({ length: D }, () => Math.floor(rng.next() * (1 << bits)));
        const words = new Uint32Array((D * bits) / 32);
        codes.forEach((c, ch) => {
          words[Math.floor((ch * bits) / 32)]! |= c << ((ch * bits) % 32);
        });
        const perWord = 16 / bits; // pairs per word
        for (let p = 0; p < D / 2; p++) {
          const w = words[Math.floor(p / perWord)]!;
          const { shift, mask } = f16PairShift(p % perWord, bits);
          const moved = shift >= 0 ? (w << shift) >>> 0 : w >>> -shift;
          const x = ((moved & mask) | 0x3c003c00) >>> 0;
          const [lo, hi] = f16PairChannels(p, bits);
          expect(half(x & 0xffff)).toBe(1 + codes[lo]! / 2 ** bits);
          expect(half(x >>> 16)).toBe(1 + codes[hi]! / 2 ** bits);
          seen.add(lo).add(hi);
        }
      }
      // the pairs cover every channel once
      expect(seen.size).toBe(D);
    }
  });

  it('says why a side cannot run in f16', () => {
    expect(tpF16Unsupported('keys', uni(2, 'channel'), 16)).toBeNull();
    expect(tpF16Unsupported('values', uni(4, 'token'), 16)).toBeNull();
    expect(tpF16Unsupported('keys', uni(3, 'channel'), 16)).toBe('3-bit keys');
    expect(tpF16Unsupported('values', uni(1, 'token'), 16)).toBe('16 channels of 1 bits per thread');
    expect(tpF16Unsupported('keys', { kind: 'f16' }, 16)).toBe('f16 keys');
  });

  it('merges the Dawn toggles into one enable-dawn-features list', () => {
    expect(dawnCreateFlags({})).toEqual([]);
    expect(dawnCreateFlags({ nvidiaShaderF16: true })).toEqual([
      'enable-dawn-features=vulkan_enable_f16_on_nvidia',
    ]);
    expect(
      dawnCreateFlags({
        dawnFlags: ['backend=vulkan', 'enable-dawn-features=disable_robustness'],
        subgroupMatrix: true,
        nvidiaShaderF16: true,
      }),
    ).toEqual([
      'backend=vulkan',
      'enable-dawn-features=disable_robustness,allow_unsafe_apis,vulkan_enable_f16_on_nvidia',
    ]);
  });
});

const p = await probe();

describe.skipIf(!p.ok)(title('packed-f16 decode attention: which sides run f16, and typed errors', p), () => {
  let noF16: GpuContext | null = null;
  afterAll(() => noF16?.dispose());
  const shape = { batch: 1, tokens: 256, queryHeads: 8, kvHeads: 2, headDim: 64 };
  const big = { batch: 16, tokens: 32768, queryHeads: 32, kvHeads: 8, headDim: 128 };
  const spec = (bits: number, axis: 'channel' | 'token', groupSize = 64): QuantizerSpec => ({
    kind: 'uniform',
    bits,
    axis,
    groupSize,
  });
  const fmt = (ctx: GpuContext, s: QuantizerSpec) => {
    using t = new GpuKvTensor(ctx, s, { batch: 1, tokens: 256, kvHeads: 2, headDim: 64, blockTokens: 128 });
    return t.tileFormat();
  };

  it.skipIf(!p.shaderF16)("'auto' runs f16 for large steps only, and 'f16' where asked", async () => {
    const ctx = (await sharedBackend()).ctx;
    const k = fmt(ctx, spec(2, 'channel'));
    const v = fmt(ctx, spec(2, 'token'));
    const k128 = fmt(ctx, spec(2, 'channel', 128));
    const v128 = fmt(ctx, spec(2, 'token', 128));
    using small = new DecodeAttention(ctx, shape, k, v);
    expect(small.arithmetic).toEqual({ keys: 'f32', values: 'f32' });
    using large = new DecodeAttention(ctx, big, k128, v128);
    expect(large.arithmetic).toEqual({ keys: 'f16', values: 'f16' });
    expect(large.tokensPerThread).toBe(2);
    using f32 = new DecodeAttention(ctx, big, k128, v128, { arithmetic: 'f32' });
    expect(f32.arithmetic).toEqual({ keys: 'f32', values: 'f32' });
    // small step: values are not unrolled, so only the keys can run f16
    using asked = new DecodeAttention(ctx, shape, k, v, { arithmetic: 'f16' });
    expect(asked.arithmetic).toEqual({ keys: 'f16', values: 'f32' });
  });

  it('typed errors: no shader-f16, no side that can, a kernel without f16, a bad value', async () => {
    noF16 = await createGpuContext({ disableShaderF16: true });
    const k = fmt(noF16, spec(2, 'channel'));
    const v = fmt(noF16, spec(2, 'token'));
    const k128 = fmt(noF16, spec(2, 'channel', 128));
    const v128 = fmt(noF16, spec(2, 'token', 128));
    expect(() => new DecodeAttention(noF16!, shape, k, v, { arithmetic: 'f16' })).toThrow(UnsupportedOpError);
    expect(() => new DecodeAttention(noF16!, shape, k, v, { arithmetic: 'f16' })).toThrow(/no shader-f16/);
    // 'auto' on a device without shader-f16 is f32
    using auto = new DecodeAttention(noF16, big, k128, v128);
    expect(auto.arithmetic).toEqual({ keys: 'f32', values: 'f32' });
    expect(() => new DecodeAttention(noF16!, shape, k, v, { arithmetic: 'f17' as unknown as 'f16' })).toThrow(
      InvalidArgumentError,
    );
    if (p.shaderF16) {
      const ctx = (await sharedBackend()).ctx;
      const k3 = fmt(ctx, spec(3, 'channel'));
      const v3 = fmt(ctx, spec(3, 'token'));
      expect(() => new DecodeAttention(ctx, shape, k3, v3, { arithmetic: 'f16' })).toThrow(
        /keys: 3-bit keys; values: values without the unrolled value phase/,
      );
      const k2 = fmt(ctx, spec(2, 'channel'));
      const v2 = fmt(ctx, spec(2, 'token'));
      expect(() => new DecodeAttention(ctx, shape, k2, v2, { arithmetic: 'f16', kernel: 'lane' })).toThrow(
        /outside the token-parallel and subgroup kernels/,
      );
    }
  });
});
