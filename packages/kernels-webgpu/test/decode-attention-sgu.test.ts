import { InvalidArgumentError, UnsupportedOpError } from '@kvq/core';
import { describe, expect, it } from 'vitest';
import { DecodeAttention, SG_SUBGROUPS, sguUnsupported, sguValueGroups } from '../src/index.js';
import {
  type SguAttentionConfig,
  type UniformTileFormat,
  sguAttentionKey,
  sguAttentionWgsl,
  sguSharedBytes,
  sguValueGroupsUnsupported,
} from '../src/kernels/decode-attention-sgu.wgsl.js';
import { probe, sharedBackend, title } from './gpu.js';

const p = await probe();

/** A uniform tile format of 128-token blocks over 8 KV heads of 128 channels. */
const uni = (bits: number, axis: 'channel' | 'token', groupSize: number): UniformTileFormat => {
  const nGroups = (128 * 1024) / groupSize;
  return {
    kind: 'uniform',
    bits,
    axis,
    groupSize,
    blockTokens: 128,
    nGroups,
    blockWords: nGroups + (128 * 1024 * bits) / 32,
  };
};

describe('subgroup-private decode attention over uniform K/V: what it reads and its code (no GPU)', () => {
  it('says why it cannot read a K/V pair or run on a device', () => {
    const k = uni(2, 'channel', 32);
    const v = uni(2, 'token', 32);
    expect(sguUnsupported(k, v, 128, [32, 32])).toBeNull();
    expect(sguUnsupported(uni(2, 'token', 32), v, 128, [32, 32])).toMatch(/keys other than channel-axis/);
    expect(sguUnsupported(k, uni(2, 'channel', 32), 128, [32, 32])).toMatch(/values other than token-axis/);
    expect(sguUnsupported(uni(3, 'channel', 32), v, 128, [32, 32])).toMatch(/3-bit keys/);
    expect(sguUnsupported(k, uni(3, 'token', 32), 128, [32, 32])).toMatch(/3-bit values/);
    expect(sguUnsupported(k, v, 96, [32, 32])).toMatch(/headDim 96/);
    expect(sguUnsupported(k, v, 128, [16, 64])).toMatch(/one fixed size/);
    expect(sguUnsupported(k, v, 128, null)).toMatch(/subgroup size/);
    // key groups must tile the tiles (or the other way round): 4 subgroups × 32 × 2 tokens = 256
    expect(
      sguUnsupported({ ...uni(2, 'channel', 32), groupSize: 96, blockTokens: 192 }, v, 128, [32, 32], {
        tpt: 2,
      }),
    ).toMatch(/key groups of 96 vs tiles of 256/);
    expect(sguUnsupported(k, v, 128, [32, 32], { channels: 1000 })).toMatch(/value groups of 32 vs 1000/);
  });

  it('picks value token groups whose channels are whole code words inside one value group', () => {
    // 2-bit values: 16 channels (one word) per invocation; 4-bit: 8; 8-bit: 4
    expect(sguValueGroups(uni(2, 'token', 128), 128, 32)).toBe(4);
    expect(sguValueGroups(uni(4, 'token', 128), 128, 32)).toBe(2);
    expect(sguValueGroups(uni(8, 'token', 128), 128, 32)).toBe(1);
    expect(sguValueGroups(uni(2, 'token', 32), 64, 8)).toBe(2);
    // 1-bit values in groups of 16 channels: 32 channels per invocation would span two groups
    expect(sguValueGroups(uni(1, 'token', 16), 128, 32)).toBeNull();
    expect(sguValueGroupsUnsupported(uni(2, 'token', 128), 128, 32, 3)).toMatch(/3 value token groups/);
    // one half-word per invocation (8 channels of 2 bits) is readable, but only where asked for
    expect(sguValueGroupsUnsupported(uni(2, 'token', 128), 128, 32, 2)).toBeNull();
    expect(sguValueGroupsUnsupported(uni(4, 'token', 128), 128, 32, 1)).toBeNull();
    expect(sguValueGroupsUnsupported(uni(2, 'token', 128), 128, 32, 1)).toMatch(
      /4 channels of 2 bits per invocation are neither whole words nor one half-word/,
    );
    expect(sguValueGroupsUnsupported(uni(2, 'token', 16), 128, 32, 8)).toMatch(/vs value groups of 16/);
  });

  it('tiles, workgroup memory and the generated kernel follow the configuration', () => {
    const c: SguAttentionConfig = {
      headDim: 128,
      group: 4,
      keys: uni(2, 'channel', 32),
      values: uni(2, 'token', 128),
      channels: 1024,
      subgroupSize: 32,
      tpt: 2,
      vgroups: 4,
      vbatch: 8,
      kvec: true,
    };
    // 8 key slots per 256-token tile, two parities: the query, folded pairs, biases, scales, partial results
    expect(sguSharedBytes(c)).toBe(
      4 * (128 * 4 + 2 * 8 * 64 * 4 + 2 * 8 * 4 + 2 * 8 + SG_SUBGROUPS * 4 * 130 + 1),
    );
    const wgsl = sguAttentionWgsl(c);
    expect(wgsl).toContain(`@workgroup_size(${SG_SUBGROUPS * 32})`);
    expect(wgsl).toContain('enable f16;');
    // barriers: the query, one per tile (after the fold), the epilogue
    expect(wgsl.match(/workgroupBarrier\(\)/g)).toHaveLength(3);
    const loop = wgsl.slice(wgsl.indexOf('for (var tile'), wgsl.indexOf('subgroupAdd(l0)'));
    expect(loop.match(/workgroupBarrier\(\)/g)).toHaveLength(1);
    // each slot folded by one subgroup into the tile's parity, its scale from subgroupMax
    expect(loop).toContain('for (var sl = sid; sl < 8u; sl = sl + 4u)');
    expect(loop).toContain('let fe = frexp(subgroupMax(fm)).exp;');
    expect(loop).toContain('let ks1 = par * 8u + (sid * 64u + 32u + lane) / 32u;');
    expect(loop.match(/= qs16\[/g)).toHaveLength(2 * 64);
    // keys as vec4 (8 words per head row: 2 loads), 64 code pairs in 4 flushes of 16
    expect(loop.match(/= k4\[kcw0 \/ 4u \+ \du\]/g)).toHaveLength(2);
    expect(loop.match(/var ha0_0 = /g)).toHaveLength(4);
    // values: one code word per token and invocation, batches of 8, weights shuffled from the scorer
    expect(loop.match(/let va\d_0 = vbuf\[/g)).toHaveLength(2 * 8);
    expect(loop).not.toContain('va0_1');
    expect(loop).toContain('subgroupShuffle(e1_0, (i0 + 7u) * 4u + vtg)');
    // key groups longer than a tile: one slot
    const g128 = sguAttentionWgsl({ ...c, keys: uni(2, 'channel', 128), tpt: 1 });
    expect(g128).toContain('let ks = par;');
    // slots of whole subgroup tiles (128-token groups, 64 tokens per subgroup): the weights loaded once for both tokens
    const g128t2 = sguAttentionWgsl({ ...c, keys: uni(2, 'channel', 128) });
    expect(g128t2).toContain('let ks = par * 2u + (sid * 64u) / 128u;');
    expect(g128t2.match(/= qs16\[/g)).toHaveLength(64);
    expect(g128).toContain('for (var sl = sid; sl < 1u; sl = sl + 4u)');
    // knobs in the cache key
    const keys = new Set(
      [
        c,
        { ...c, tpt: 1 },
        { ...c, vgroups: 8 },
        { ...c, vbatch: 4 },
        { ...c, kflush: 8 },
        { ...c, kvec: false },
      ].map((x) => sguAttentionKey(x)),
    );
    expect(keys.size).toBe(6);
    expect(() => sguAttentionWgsl({ ...c, vbatch: 3 })).toThrow(/vbatch 3/);
    expect(() => sguAttentionWgsl({ ...c, kflush: 5 })).toThrow(/flushes of 5/);
    expect(() => sguAttentionWgsl({ ...c, vgroups: 1 })).toThrow(/neither whole words/);
    // half-word invocations: 8 channels of 2 bits, the word shifted by the invocation's half, 4 code pairs
    const half = sguAttentionWgsl({ ...c, vgroups: 2 });
    expect(half).toContain('let vhs = (vcg * 16u) & 31u;');
    expect(half).toContain('let vz0 = va0_0 >> vhs; let vy0 = (vz0 & 0xffu) | ((vz0 << 8u) & 0xff0000u);');
    expect(half.match(/let vx0_0_\d = /g)).toHaveLength(2 * 4);
    expect(half).not.toContain('vx0_0_4');
    expect(half).not.toContain('acc8_0');
    expect(sguAttentionWgsl(c)).not.toContain('vhs');
    expect(() => sguAttentionWgsl({ ...c, tpt: 3 })).toThrow();
    expect(() =>
      sguAttentionWgsl({ ...c, keys: uni(1, 'channel', 32), kvec: true, headDim: 64, vgroups: 8, vbatch: 4 }),
    ).toThrow(/kvec/);
  });
});

describe.skipIf(!p.ok)(
  title('subgroup-private decode attention over uniform K/V: typed errors on the device', p),
  () => {
    const shape = { batch: 1, tokens: 256, queryHeads: 4, kvHeads: 1, headDim: 64 };
    const k: UniformTileFormat = {
      ...uni(2, 'channel', 32),
      nGroups: 256,
      blockWords: 256 + (128 * 64 * 2) / 32,
    };
    const v: UniformTileFormat = {
      ...uni(2, 'token', 32),
      nGroups: 256,
      blockWords: 256 + (128 * 64 * 2) / 32,
    };
    it('names what it cannot do', async () => {
      const { ctx } = await sharedBackend();
      expect(() => new DecodeAttention(ctx, shape, k, v, { kernel: 'subgroup', noSubgroups: true })).toThrow(
        InvalidArgumentError,
      );
      expect(() => new DecodeAttention(ctx, shape, k, v, { kernel: 'subgroup', arithmetic: 'f32' })).toThrow(
        /runs packed f16 only \(arithmetic 'f32'/,
      );
      if (!ctx.features.subgroups || ctx.features.subgroupSizes?.[0] !== ctx.features.subgroupSizes?.[1])
        return;
      if (!ctx.features.shaderF16) {
        expect(() => new DecodeAttention(ctx, shape, k, v, { kernel: 'subgroup' })).toThrow(
          UnsupportedOpError,
        );
        return;
      }
      for (const tuning of [{ sgKprefetch: true }, { sgVcoop: true }, { modIndex: true }])
        expect(() => new DecodeAttention(ctx, shape, k, v, { kernel: 'subgroup', tuning })).toThrow(
          /applies to HIGGS K\/V only/,
        );
      expect(
        () => new DecodeAttention(ctx, shape, k, v, { kernel: 'subgroup', tuning: { sgVgroups: 3 } }),
      ).toThrow(/tuning.sgVgroups: 3 value token groups/);
      expect(
        () => new DecodeAttention(ctx, shape, k, v, { kernel: 'subgroup', tuning: { sgVbatch: 3 } }),
      ).toThrow(InvalidArgumentError);
      expect(() => new DecodeAttention(ctx, shape, k, v, { kernel: 'subgroup', tokensPerThread: 3 })).toThrow(
        InvalidArgumentError,
      );
      expect(() => new DecodeAttention(ctx, shape, uni(3, 'channel', 32), v, { kernel: 'subgroup' })).toThrow(
        UnsupportedOpError,
      );
      using a = new DecodeAttention(ctx, shape, k, v, { kernel: 'subgroup' });
      expect(a.kernel).toBe('subgroup');
      expect(a.arithmetic).toEqual({ keys: 'f16', values: 'f16' });
      expect(a.tokensPerThread).toBe(2);
      // picked unasked on large steps where the subgroups have 16 invocations or more (lavapipe's 8: not)
      using d = new DecodeAttention(ctx, { ...shape, batch: 64, tokens: 8192 }, k, v, {});
      expect(d.kernel).toBe(ctx.features.subgroupSizes![0] >= 16 ? 'subgroup' : 'token');
      using small = new DecodeAttention(ctx, shape, k, v, {});
      expect(small.kernel).toBe('token');
    });
  },
);
