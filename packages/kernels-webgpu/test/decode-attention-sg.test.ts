import { InvalidArgumentError, UnsupportedOpError } from '@kvq/core';
import { describe, expect, it } from 'vitest';
import { DecodeAttention, SG_SUBGROUPS, sgUnsupported, subgroupKernelByDefault } from '../src/index.js';
import {
  sgAttentionKey,
  sgAttentionWgsl,
  sgSharedBytes,
  sgTileTokens,
  sgVcoopUnsupported,
  sgVgroupsUnsupported,
} from '../src/kernels/decode-attention-sg.wgsl.js';
import type { KvTileFormat } from '../src/kernels/decode-attention.wgsl.js';
import { probe, sharedBackend, title } from './gpu.js';

const higgs = (codeBits: number, block = 128): Extract<KvTileFormat, { kind: 'higgs' }> => ({
  kind: 'higgs',
  dim: 2,
  bits: codeBits / 2,
  codeBits,
  block,
  blockTokens: 64,
  blockWords: 64 * 4 + (64 * 8 * codeBits) / 32,
  scaleWords: 64 * 4,
  table: new Float32Array(2 << codeBits),
  signs: new Float32Array(block).fill(1),
});
const uniform: KvTileFormat = {
  kind: 'uniform',
  bits: 2,
  axis: 'channel',
  groupSize: 128,
  blockTokens: 128,
  nGroups: 1,
  blockWords: 1,
};

describe('subgroup-private decode attention: what it reads and its code (no GPU)', () => {
  it('says why it cannot read a K/V pair or run on a device', () => {
    expect(sgUnsupported(higgs(5), higgs(4), 128, [32, 32])).toBeNull();
    expect(sgUnsupported(higgs(4, 64), higgs(3, 64), 64, [8, 8])).toBeNull();
    expect(sgUnsupported(uniform, higgs(4), 128, [32, 32])).toBe('uniform keys (it reads HIGGS keys only)');
    expect(sgUnsupported(higgs(4), { kind: 'f16' }, 128, [32, 32])).toBe(
      'f16 values (it reads HIGGS values only)',
    );
    expect(sgUnsupported(higgs(4), higgs(4), 96, [32, 32])).toBe('headDim 96');
    expect(sgUnsupported(higgs(4, 64), higgs(4), 128, [32, 32])).toBe('key Hadamard block 64 ≠ headDim 128');
    expect(sgUnsupported(higgs(4), higgs(4), 128, null)).toBe('the device does not report its subgroup size');
    expect(sgUnsupported(higgs(4), higgs(4), 128, [16, 64])).toBe(
      'subgroups of 16..64 invocations (needs one fixed size)',
    );
    // 64 channels over 64 invocations: one channel each, not a whole value pair
    expect(sgUnsupported(higgs(4, 64), higgs(4, 64), 64, [64, 64])).toMatch(/whole value pairs/);
  });

  it('tiles, workgroup memory and the generated kernel follow the configuration', () => {
    expect(sgTileTokens(32, 2)).toBe(SG_SUBGROUPS * 64);
    const c = {
      headDim: 128,
      group: 4,
      keys: higgs(5),
      values: higgs(4),
      channels: 8 * 128,
      subgroupSize: 32,
      tpt: 2,
      vbatch: 8,
      kvec: false,
    };
    // two copies of the query, both grids, and the subgroups' partial results
    expect(sgSharedBytes(c)).toBe(4 * (2 * 128 * 4 + 64 + 32 + SG_SUBGROUPS * 4 * 130 + 1));
    const wgsl = sgAttentionWgsl(c);
    expect(wgsl).toContain(`@workgroup_size(${SG_SUBGROUPS * 32})`);
    expect(wgsl).toContain('const SGN = 32u;');
    // workgroup barriers in the prologue (grids, the butterfly loop, the query) and the epilogue only
    expect(wgsl.match(/workgroupBarrier\(\)/g)).toHaveLength(4);
    const tileLoop = wgsl.slice(wgsl.indexOf('for (var tile'), wgsl.indexOf('subgroupAdd('));
    expect(tileLoop).toContain('subgroupMax(');
    expect(tileLoop).not.toContain('workgroupBarrier');
    // f16: two more barriers in the prologue (the query's maximum, its packed pairs), none in the loop
    const h = sgAttentionWgsl({ ...c, f16: true });
    expect(h.match(/workgroupBarrier\(\)/g)).toHaveLength(6);
    expect(h.slice(h.indexOf('for (var tile'), h.indexOf('subgroupAdd('))).not.toContain('workgroupBarrier');
    expect(h.startsWith('enable f16;')).toBe(true);
    // probes: 1 drops both lookups, 2 keeps the key grid's, 3 the value grid's; loads always stay
    const lookups = (w: string) => {
      const loop = w.slice(w.indexOf('for (var tile'), w.indexOf('subgroupAdd('));
      return [loop.includes('tabK['), loop.includes('tabV[')];
    };
    expect(lookups(wgsl)).toEqual([true, true]);
    expect(lookups(sgAttentionWgsl({ ...c, probe: 1 }))).toEqual([false, false]);
    expect(lookups(sgAttentionWgsl({ ...c, probe: 2 }))).toEqual([true, false]);
    expect(lookups(sgAttentionWgsl({ ...c, probe: 3 }))).toEqual([false, true]);
    for (const probe of [1, 2, 3]) expect(sgAttentionWgsl({ ...c, probe })).toContain('sink = sink ^');
    expect(() => sgAttentionWgsl({ ...c, vbatch: 3 })).toThrow(/vbatch 3/);
    // cooperative value loads: 4-bit pair codes make head rows of 8 words, 4 tokens per load of 32
    expect(sgVcoopUnsupported(c)).toBeNull();
    expect(sgVcoopUnsupported({ ...c, vbatch: 2 })).toBe('value batches of 2 tokens vs 4 tokens per load');
    expect(sgVcoopUnsupported({ ...c, values: higgs(5) })).toBe(
      'value head rows of 10 words vs subgroups of 32',
    );
    const coop = sgAttentionWgsl({ ...c, vcoop: true });
    const loop = coop.slice(coop.indexOf('for (var tile'), coop.indexOf('subgroupAdd('));
    expect(loop.match(/= vbuf\[/g)).toHaveLength(2 * (8 / 4)); // 2 tokens per invocation, 2 loads per batch of 8
    expect(() => sgAttentionWgsl({ ...c, vcoop: true, values: higgs(5) })).toThrow(/cooperative/);
    // value token groups: 4 groups of 8 invocations, 16 channels (one word of 4-bit pair codes) each, so
    // a batch of 8 tokens is 8 loads as before, and there are a quarter as many batches per tile
    const tg = { ...c, vgroups: 4 };
    expect(sgVgroupsUnsupported(tg)).toBeNull();
    const grouped = sgAttentionWgsl(tg);
    const gloop = grouped.slice(grouped.indexOf('for (var tile'), grouped.indexOf('subgroupAdd('));
    expect(gloop.match(/= vbuf\[/g)).toHaveLength(2 * 8);
    expect(gloop).toContain('for (var i0 = 0u; i0 < 8u;');
    expect(gloop).toContain('(i0 + 7u) * 4u + vtg');
    // the groups' sums after the loop: 2 butterfly steps (across 8 and 16 lanes) per accumulator
    const epilogue = grouped.slice(grouped.indexOf('subgroupAdd('));
    expect(epilogue.match(/subgroupShuffleXor\(acc\d+_0, 8u\)/g)).toHaveLength(16);
    expect(epilogue.match(/subgroupShuffleXor\(acc\d+_0, 16u\)/g)).toHaveLength(16);
    expect(epilogue).toContain('if (vtg == 0u) {');
    expect(sgAttentionWgsl({ ...c, vgroups: 1 })).toBe(wgsl);
    expect(sgVgroupsUnsupported({ ...c, vgroups: 3 })).toBe(
      '3 groups (a power of two dividing the subgroup size 32)',
    );
    expect(sgVgroupsUnsupported({ ...c, vgroups: 64 })).toBe(
      '64 groups (a power of two dividing the subgroup size 32)',
    );
    expect(sgVgroupsUnsupported({ ...c, vgroups: 8 })).toBe(
      'value batches of 8 tokens vs 4 tokens per group',
    );
    expect(sgVgroupsUnsupported({ ...c, vgroups: 2, vcoop: true })).toMatch(/^cooperative value loads/);
    expect(sgVgroupsUnsupported({ ...c, headDim: 64, subgroupSize: 128, vbatch: 1, vgroups: 2 })).toBe(
      '2 groups with headDim 64 (each invocation needs whole value pairs)',
    );
    expect(() => sgAttentionWgsl({ ...c, vgroups: 8 })).toThrow(/value token groups: value batches of 8/);
    // 8-byte aligned key rows (aqua-2.5's 10 words) as 3 vec4 loads, the row's words picked by the head's offset
    const kp = sgAttentionWgsl({ ...c, tpt: 1, kpair: true });
    const kloop = kp.slice(kp.indexOf('for (var tile'), kp.indexOf('subgroupAdd('));
    expect(kloop.match(/= k4\[/g)).toHaveLength(3);
    expect(kloop).not.toContain('= kbuf[');
    expect(kloop).toContain('let kw0_9 = select(kv0_2[1], kv0_2[3], kodd);');
    expect(kp).toContain('let kodd = ((hk * 10u) & 2u) != 0u;');
    expect(() => sgAttentionWgsl({ ...c, kpair: true, kvec: true })).toThrow(/kpair/);
    // codes cut by % (Tint's range analysis then knows the grid index is in bounds), else by masks
    const mod = sgAttentionWgsl({ ...c, modIndex: true });
    expect(mod).toContain('tabK[(kw0_0 % 32u)]');
    expect(mod).not.toContain('& 31u)]');
    expect(wgsl).toContain('tabK[(kw0_0 & 31u)]');
    // key rows a tile ahead: the first tile's rows loaded before the loop into loop-carried vars, each tile
    // taking its rows from them and loading the next tile's (TT = 256 tokens further) in their place
    const pf = sgAttentionWgsl({ ...c, tpt: 1, kpair: true, kprefetch: true });
    const pre = pf.slice(pf.indexOf('var sink'), pf.indexOf('for (var tile'));
    expect(pre.match(/var kn0_\d = k4\[/g)).toHaveLength(3);
    const ploop = pf.slice(pf.indexOf('for (var tile'), pf.indexOf('subgroupAdd('));
    expect(ploop).toContain('let kv0_2 = kn0_2;');
    expect(ploop).toContain(`min(t0 + ${SG_SUBGROUPS * 32}u, p.N - 1u)`);
    expect(ploop.match(/ {4}kn0_\d = k4\[/g)).toHaveLength(3);
    expect(ploop.match(/= k4\[/g)).toHaveLength(3);
    // plain word rows (kvec off, kpair off) ahead too, two tokens per invocation
    const pw = sgAttentionWgsl({ ...c, kprefetch: true });
    const wloop = pw.slice(pw.indexOf('for (var tile'), pw.indexOf('subgroupAdd('));
    expect(wloop.match(/ {4}kn[01]_\d+ = kbuf\[/g)).toHaveLength(2 * 10);
    expect(wloop).toContain(`min(t1 + ${SG_SUBGROUPS * 64}u, p.N - 1u)`);
    expect(sgAttentionKey({ ...c, kprefetch: true })).not.toBe(sgAttentionKey(c));
    // f16 key partial sums flushed every kflush pairs
    const k8 = sgAttentionWgsl({ ...c, f16: true, kflush: 8 });
    expect(k8.match(/var ha0_0 = /g)).toHaveLength(64 / 8);
    expect(sgAttentionWgsl({ ...c, f16: true }).match(/var ha0_0 = /g)).toHaveLength(64 / 16);
    expect(() => sgAttentionWgsl({ ...c, f16: true, kflush: 7 })).toThrow(/flushes of 7/);
    expect(() => sgAttentionWgsl({ ...c, tpt: 4 })).toThrow(/tpt 4/);
    expect(() => sgAttentionWgsl({ ...c, subgroupSize: 128 })).toThrow(/whole value pairs/);
  });
});

describe('subgroupKernelByDefault: when DecodeAttention picks the subgroup kernel unasked', () => {
  const big = {
    keys: higgs(5),
    values: higgs(4),
    headDim: 128,
    work: 16 * 8 * 4096,
    f16Keys: true,
    subgroups: true,
    subgroupSizes: [32, 32] as const,
  };
  it('large f16 HIGGS steps on fixed subgroups of 16 or more', () => {
    expect(subgroupKernelByDefault(big)).toBe(true);
    expect(subgroupKernelByDefault({ ...big, subgroupSizes: [16, 16] })).toBe(true);
  });
  it('else the token-parallel kernel', () => {
    expect(subgroupKernelByDefault({ ...big, work: (1 << 19) - 1 })).toBe(false);
    expect(subgroupKernelByDefault({ ...big, f16Keys: false })).toBe(false);
    expect(subgroupKernelByDefault({ ...big, subgroups: false })).toBe(false);
    expect(subgroupKernelByDefault({ ...big, subgroupSizes: null })).toBe(false);
    expect(subgroupKernelByDefault({ ...big, subgroupSizes: [8, 8] })).toBe(false);
    expect(subgroupKernelByDefault({ ...big, subgroupSizes: [16, 64] })).toBe(false);
    expect(subgroupKernelByDefault({ ...big, keys: uniform })).toBe(false);
    expect(subgroupKernelByDefault({ ...big, values: higgs(4, 64) })).toBe(false);
  });
  it('uniform K/V (kivi-2, k4v2) on the same steps, where the uniform subgroup kernel reads them', () => {
    const values: KvTileFormat = { ...uniform, axis: 'token', nGroups: 8 };
    const u = { ...big, keys: uniform, values, channels: 1024 };
    expect(subgroupKernelByDefault(u)).toBe(true);
    expect(subgroupKernelByDefault({ ...u, keys: { ...uniform, bits: 4 } })).toBe(true);
    expect(subgroupKernelByDefault({ ...u, work: (1 << 19) - 1 })).toBe(false);
    expect(subgroupKernelByDefault({ ...u, f16Keys: false })).toBe(false);
    expect(subgroupKernelByDefault({ ...u, subgroupSizes: [8, 8] })).toBe(false);
    // 3-bit keys, token-axis keys, value groups that do not divide the channels: not read
    expect(subgroupKernelByDefault({ ...u, keys: { ...uniform, bits: 3 } })).toBe(false);
    expect(subgroupKernelByDefault({ ...u, keys: { ...uniform, axis: 'token' } })).toBe(false);
    expect(subgroupKernelByDefault({ ...u, channels: 1000 })).toBe(false);
  });
});

const p = await probe();

describe.skipIf(!p.ok)(title('subgroup-private decode attention: typed errors on the device', p), () => {
  const shape = { batch: 1, tokens: 256, queryHeads: 4, kvHeads: 1, headDim: 64 };
  it('names what it cannot do', async () => {
    const { ctx } = await sharedBackend();
    const k = higgs(4, 64);
    expect(() => new DecodeAttention(ctx, shape, k, k, { kernel: 'subgroup', noSubgroups: true })).toThrow(
      InvalidArgumentError,
    );
    expect(() => new DecodeAttention(ctx, shape, uniform, k, { kernel: 'subgroup' })).toThrow(
      UnsupportedOpError,
    );
    if (ctx.features.subgroups && ctx.features.subgroupSizes?.[0] === ctx.features.subgroupSizes?.[1]) {
      const sgs = ctx.features.subgroupSizes![0];
      expect(
        () => new DecodeAttention(ctx, shape, k, k, { kernel: 'subgroup', tuning: { sgVbatch: sgs + 1 } }),
      ).toThrow(InvalidArgumentError);
      expect(() => new DecodeAttention(ctx, shape, k, k, { kernel: 'subgroup', tokensPerThread: 3 })).toThrow(
        InvalidArgumentError,
      );
      // value token groups that are not a power of two, or that meet cooperative loads; key-row vec4 reads
      // where the rows are 16-byte aligned already (4-bit pair codes: 8 words per head row)
      expect(
        () => new DecodeAttention(ctx, shape, k, k, { kernel: 'subgroup', tuning: { sgVgroups: 3 } }),
      ).toThrow(/tuning.sgVgroups: 3 groups/);
      expect(
        () =>
          new DecodeAttention(ctx, shape, k, k, {
            kernel: 'subgroup',
            tuning: { sgVgroups: 2, sgVcoop: true, sgVbatch: 4 },
          }),
      ).toThrow(InvalidArgumentError);
      expect(
        () => new DecodeAttention(ctx, shape, k, k, { kernel: 'subgroup', tuning: { sgKpair: true } }),
      ).toThrow(/sgKpair/);
      expect(
        () => new DecodeAttention(ctx, shape, k, k, { kernel: 'subgroup', tuning: { kflush: 5 } }),
      ).toThrow(/kflush must divide headDim \/ 2 = 32, got 5/);
      if (ctx.features.shaderF16) {
        using h = new DecodeAttention(ctx, shape, k, k, { kernel: 'subgroup', arithmetic: 'f16' });
        expect(h.arithmetic).toEqual({ keys: 'f16', values: 'f16' });
      } else
        expect(
          () => new DecodeAttention(ctx, shape, k, k, { kernel: 'subgroup', arithmetic: 'f16' }),
        ).toThrow(UnsupportedOpError);
      using a = new DecodeAttention(ctx, shape, k, k, { kernel: 'subgroup' });
      expect(a.kernel).toBe('subgroup');
      expect(a.arithmetic).toEqual({ keys: 'f32', values: 'f32' });
      expect(a.tokensPerThread).toBe(2);
    }
  });
});
