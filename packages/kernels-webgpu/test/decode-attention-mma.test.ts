import { type QuantizerSpec, SeededRandom, UnsupportedOpError } from '@kvq/core';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BufferScope,
  DecodeAttention,
  type GpuContext,
  GpuKvTensor,
  createGpuContext,
  mmaCodePosition,
  mmaUnsupported,
} from '../src/index.js';
import { mmaColumns } from '../src/kernels/decode-attention-mma.wgsl.js';
import type { KvTileFormat } from '../src/kernels/decode-attention.wgsl.js';
import { decodeReferences, encodeKvBlocks, worstSequenceError } from './attention-reference.js';
import { runDecodeAttention } from './decode-attention-run.js';
import { relErr } from './gpu.js';

const tile = (
  bits: number,
  axis: 'channel' | 'token',
  groupSize: number,
  blockTokens = 128,
): KvTileFormat => ({
  kind: 'uniform',
  bits,
  axis,
  groupSize,
  blockTokens,
  nGroups: 1,
  blockWords: 1,
});

describe('int8 subgroup-matrix kernel: code layout and what it reads (no GPU)', () => {
  it('the expanded byte position of each channel is a permutation that matches shift-and-mask expansion', () => {
    const rng = new SeededRandom(5);
    for (const bits of [1, 2, 4]) {
      const D = 128;
      const pos = Array.from({ length: D }, (_, ch) => mmaCodePosition(ch, bits));
      expect(new Set(pos).size).toBe(D);
      expect(Math.min(...pos)).toBe(0);
      expect(Math.max(...pos)).toBe(D - 1);
      // pack random codes as the encoder does (code c at bit c·bits of its word), expand each word
      // into 8/bits words of 4 bytes as the kernel does, and read every channel back at its position
      const codes = Array.from({ length: D }, () => Math.floor(rng.next() * (1 << bits)));
      const words = new Uint32Array((D * bits) / 32);
      codes.forEach((c, ch) => {
        words[Math.floor((ch * bits) / 32)]! |= c << ((ch * bits) % 32);
      });
      const mask = 0x01010101 * ((1 << bits) - 1);
      const bytes = new Uint8Array(D);
      const f = 8 / bits;
      words.forEach((w, m) => {
        for (let k = 0; k < f; k++) {
          const e = ((w >>> (bits * k)) & mask) >>> 0;
          for (let j = 0; j < 4; j++) bytes[(m * 32) / bits + 4 * k + j] = (e >>> (8 * j)) & 0xff;
        }
      });
      for (let ch = 0; ch < D; ch++) expect(bytes[pos[ch]!], `bits ${bits} channel ${ch}`).toBe(codes[ch]);
    }
  });

  it('says why a K/V pair is not read', () => {
    expect(mmaUnsupported(tile(2, 'channel', 128), tile(2, 'token', 128), 128)).toBeNull();
    expect(mmaUnsupported(tile(4, 'channel', 32), tile(1, 'token', 32), 64)).toMatch(/value rows/);
    expect(mmaUnsupported(tile(3, 'channel', 128), tile(2, 'token', 128), 128)).toMatch(
      /key codes of 3 bits/,
    );
    expect(mmaUnsupported(tile(2, 'token', 128), tile(2, 'token', 128), 128)).toMatch(/keys are not/);
    expect(mmaUnsupported(tile(2, 'channel', 128), tile(2, 'channel', 128), 128)).toMatch(/values are not/);
    expect(mmaUnsupported(tile(2, 'channel', 16), tile(2, 'token', 128), 128)).toMatch(/key groups of 16/);
    expect(mmaUnsupported(tile(2, 'channel', 32), tile(2, 'token', 16), 128)).toMatch(/value groups of 16/);
    expect(mmaUnsupported(tile(2, 'channel', 48, 48), tile(2, 'token', 128, 48), 128)).toMatch(
      /blocks of 48/,
    );
    expect(mmaUnsupported(tile(2, 'channel', 128), tile(2, 'token', 128), 80)).toMatch(/headDim 80/);
    expect(mmaUnsupported({ kind: 'f16' }, tile(2, 'token', 128), 128)).toMatch(/keys are not/);
  });

  it('picks the narrowest matrix width that holds two int8 parts per query head', () => {
    const h100 = [
      { M: 16, N: 16, K: 32 },
      { M: 16, N: 8, K: 32 },
    ];
    expect(mmaColumns(4, h100)).toBe(8);
    expect(mmaColumns(1, h100)).toBe(8);
    expect(mmaColumns(8, h100)).toBe(16);
    expect(mmaColumns(9, h100)).toBeNull();
    expect(mmaColumns(4, [{ M: 8, N: 8, K: 32 }])).toBeNull();
  });
});

let ctx: GpuContext | null = null;
let why = '';
try {
  ctx = await createGpuContext({ subgroupMatrix: true });
  if (ctx.features.i8Matrices.length === 0) {
    why = `adapter '${ctx.adapterInfo?.description || ctx.adapterInfo?.vendor || '?'}' has no i8 subgroup matrices (chromium-experimental-subgroup-matrix)`;
  }
} catch (err) {
  why = `no WebGPU adapter: ${(err as Error).message}`;
}
afterAll(() => ctx?.dispose());

describe.skipIf(ctx === null)('int8 subgroup-matrix kernel on a device without it', () => {
  it.skipIf(ctx === null || ctx.features.i8Matrices.length > 0)(
    "kernel: 'mma' throws UnsupportedOpError naming the missing feature; the default stays token-parallel",
    () => {
      const f = { batch: 1, tokens: 128, queryHeads: 4, kvHeads: 1, headDim: 128 };
      expect(
        () => new DecodeAttention(ctx!, f, tile(2, 'channel', 128), tile(2, 'token', 128), { kernel: 'mma' }),
      ).toThrow(UnsupportedOpError);
      expect(
        () => new DecodeAttention(ctx!, f, tile(2, 'channel', 128), tile(2, 'token', 128), { kernel: 'mma' }),
      ).toThrow(/i8 subgroup matrices/);
      using a = new DecodeAttention(ctx!, f, tile(2, 'channel', 128), tile(2, 'token', 128));
      expect(a.kernel).toBe('token');
    },
  );
});

const u = (bits: number, axis: 'channel' | 'token', groupSize: number): QuantizerSpec => ({
  kind: 'uniform',
  bits,
  axis,
  groupSize,
});

const CASES: {
  name: string;
  k: QuantizerSpec;
  v: QuantizerSpec;
  D: number;
  Hq: number;
  Hkv: number;
  B: number;
  /** tokens attended (≤ cap) */
  N: number;
  cap: number;
  bt: number;
}[] = [
  {
    name: 'kivi-2 g128',
    k: u(2, 'channel', 128),
    v: u(2, 'token', 128),
    D: 128,
    Hq: 8,
    Hkv: 2,
    B: 2,
    N: 256,
    cap: 256,
    bt: 128,
  },
  {
    name: 'kivi-2, 200 of 256 tokens',
    k: u(2, 'channel', 64),
    v: u(2, 'token', 64),
    D: 128,
    Hq: 8,
    Hkv: 2,
    B: 1,
    N: 200,
    cap: 256,
    bt: 64,
  },
  {
    name: 'k4v2 g32, GQA 8',
    k: u(4, 'channel', 32),
    v: u(2, 'token', 32),
    D: 128,
    Hq: 8,
    Hkv: 1,
    B: 1,
    N: 128,
    cap: 128,
    bt: 32,
  },
  {
    name: 'k2v4, GQA 3, headDim 64',
    k: u(2, 'channel', 32),
    v: u(4, 'token', 32),
    D: 64,
    Hq: 6,
    Hkv: 2,
    B: 2,
    N: 96,
    cap: 96,
    bt: 32,
  },
];

describe.skipIf(ctx === null || why !== '')(
  `int8 subgroup-matrix decode attention vs fp64 attention on the CPU-decoded cache${why ? ` — SKIPPED: ${why}` : ''}`,
  () => {
    for (const c of CASES) {
      it(`${c.name}: B=${c.B} N=${c.N} Hq=${c.Hq} Hkv=${c.Hkv} D=${c.D}`, async () => {
        const g = ctx!;
        const rng = new SeededRandom(c.N + c.D);
        const C = c.Hkv * c.D;
        const kv = encodeKvBlocks(
          c.k,
          c.v,
          { batch: c.B, blocks: c.cap / c.bt, blockTokens: c.bt, kvHeads: c.Hkv, headDim: c.D },
          () => ({ k: rng.normalArray(c.bt * C, 0.2, 1.5), v: rng.normalArray(c.bt * C) }),
        );
        const q = rng.normalArray(c.B * c.Hq * c.D);
        const ts = { batch: c.B, tokens: c.cap, kvHeads: c.Hkv, headDim: c.D, blockTokens: c.bt };
        using scope = new BufferScope(g);
        using kt = GpuKvTensor.fromBlocks(g, c.k, ts, kv.keys);
        using vt = GpuKvTensor.fromBlocks(g, c.v, ts, kv.values);
        using attn = new DecodeAttention(
          g,
          { batch: c.B, tokens: c.N, queryHeads: c.Hq, kvHeads: c.Hkv, headDim: c.D },
          kt.tileFormat(),
          vt.tileFormat(),
          { kernel: 'mma' },
        );
        expect(attn.kernel).toBe('mma');
        const got = await runDecodeAttention(g, scope, attn, q, kt, vt, 'mma attention');
        const refs = decodeReferences(q, kv, attn.shape);
        // 16-bit fixed-point query and weights (see the kernel): 1e-3 of the output's largest value
        expect(worstSequenceError(got, refs, relErr)).toBeLessThan(1e-3);
      });
    }
  },
);
