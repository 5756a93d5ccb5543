import {
  type HiggsSpec,
  InvalidArgumentError,
  SeededRandom,
  float16Table,
  float32ToFloat16Bits,
  getPreset,
  layerQuantizers,
} from '@kvq/core';
import { relL2 } from '@kvq/core/testing';
import { describe, expect, it } from 'vitest';
import {
  DeviceBuffer,
  PagedKVPool,
  type PagedLayout,
  decodeAttention,
  defaultSplitPages,
  higgsAttentionUnsupported,
  partialBytes,
  tensorCoreApplies,
} from '../src/index.js';
import { hasGpu, skipReason } from './gpu.js';
import { referenceDecodeAttention } from './paged-reference.js';

type Kernel = 'auto' | 'scalar' | 'tensor-core';
interface Case {
  layout: PagedLayout;
  group: number;
  kernel: Kernel;
  /** multiplies the values (default 1): the folded value scales must hold tiny and large values */
  valueScale?: number;
}
const L = (format: PagedLayout['format'], pageTokens: number): PagedLayout => ({
  format,
  pageTokens,
  kvHeads: 2,
  headDim: 128,
});
const u = (bitsK: 2 | 4, gsK: number, bitsV: 2 | 4, gsV: number) =>
  ({ kind: 'uniform', bitsK, gsK, bitsV, gsV }) as const;
const cases: Case[] = [
  { layout: L({ kind: 'fp16' }, 64), group: 4, kernel: 'auto' },
  { layout: L({ kind: 'fp16' }, 64), group: 8, kernel: 'auto' },
  { layout: L({ kind: 'fp16' }, 128), group: 1, kernel: 'tensor-core' },
  { layout: L({ kind: 'fp16' }, 32), group: 2, kernel: 'tensor-core' },
  { layout: L({ kind: 'fp16' }, 64), group: 4, kernel: 'scalar' },
  { layout: L(u(2, 32, 2, 32), 64), group: 4, kernel: 'scalar' },
  { layout: L(u(2, 32, 2, 32), 64), group: 4, kernel: 'tensor-core' },
  { layout: L(u(2, 32, 2, 32), 64), group: 8, kernel: 'tensor-core' },
  { layout: L(u(2, 32, 2, 32), 64), group: 1, kernel: 'tensor-core' },
  { layout: L(u(4, 32, 2, 32), 128), group: 4, kernel: 'scalar' },
  { layout: L(u(4, 32, 2, 32), 128), group: 4, kernel: 'tensor-core' },
  { layout: L(u(4, 32, 2, 32), 128), group: 2, kernel: 'tensor-core' },
  { layout: L(u(4, 64, 4, 64), 64), group: 4, kernel: 'scalar' },
  { layout: L(u(4, 64, 4, 64), 64), group: 4, kernel: 'tensor-core' },
  { layout: L(u(2, 32, 4, 16), 64), group: 4, kernel: 'tensor-core' },
  { layout: L(u(2, 128, 2, 128), 128), group: 4, kernel: 'tensor-core' },
  // one value scale per token and head (groups of ≥ 128 channels): scales and mins folded into P
  { layout: L(u(2, 128, 2, 128), 128), group: 8, kernel: 'tensor-core' },
  { layout: L(u(4, 128, 2, 128), 128), group: 2, kernel: 'tensor-core' },
  { layout: L(u(2, 32, 4, 256), 64), group: 4, kernel: 'tensor-core' },
  { layout: L(u(2, 128, 2, 128), 128), group: 4, kernel: 'tensor-core', valueScale: 1e-3 },
  { layout: L(u(2, 128, 2, 128), 128), group: 8, kernel: 'tensor-core', valueScale: 300 },
  // 32 KV heads: at splitPages 1 the grid has 3 × 8 × 32 = 768 blocks, more than 3 per SM up to 256 SMs,
  // so kivi-2/g128 runs its 4-blocks-per-SM build there (and the 3-per-SM one at the larger splits)
  { layout: { ...L(u(2, 128, 2, 128), 128), kvHeads: 32 }, group: 4, kernel: 'tensor-core' },
  // the same grid with pages of 192 tokens and key groups of 96 (not powers of two: page and group indices
  // by division)
  { layout: { ...L(u(2, 96, 2, 128), 192), kvHeads: 32 }, group: 4, kernel: 'tensor-core' },
  // key groups of 64 tokens on pages of 64 and of 192 (built with KVQ_T64, the batch-1 kivi-2/g128 kernel's
  // 64-token chunks are then one key group each, and page indices of 192-token pages come by division)
  { layout: L(u(2, 64, 2, 128), 64), group: 2, kernel: 'tensor-core' },
  { layout: L(u(2, 64, 2, 128), 192), group: 4, kernel: 'tensor-core' },
  // …and on a grid of more than 3 blocks per SM (32 KV heads; with KVQ_T64=3 the 4-blocks-per-SM kernel's)
  { layout: { ...L(u(2, 64, 2, 128), 192), kvHeads: 32 }, group: 4, kernel: 'tensor-core' },
  { layout: L(u(2, 32, 2, 8), 64), group: 4, kernel: 'auto' }, // value groups of 8: scalar kernel
  ...higgsCases(),
];

/** HIGGS pages with the K/V specs of real presets (aqua-2.5 layers 0 and 1, aqua-3, aqua-2, kvq-2's widths). */
function higgsCases(): Case[] {
  const h = (preset: string, layer: number) => {
    const q = layerQuantizers(getPreset(preset), layer);
    return { kind: 'higgs', keys: q.keys as HiggsSpec, values: q.values as HiggsSpec } as const;
  };
  const out: Case[] = [
    { layout: L(h('aqua-2.5', 1), 64), group: 4, kernel: 'auto' },
    { layout: L(h('aqua-2.5', 1), 128), group: 8, kernel: 'tensor-core' },
    { layout: L(h('aqua-2.5', 1), 64), group: 1, kernel: 'auto' },
    { layout: L(h('aqua-2.5', 0), 64), group: 4, kernel: 'auto' },
    { layout: L(h('aqua-2', 0), 64), group: 2, kernel: 'auto' },
    { layout: L(h('aqua-3', 1), 64), group: 4, kernel: 'auto' },
    { layout: L(h('aqua-2', 1), 64), group: 4, kernel: 'auto' },
  ];
  for (const layer of [1, 3, 7]) out.push({ layout: L(h('kvq-2', layer), 64), group: 4, kernel: 'auto' });
  // grids of at most 2 blocks per SM run the 8-warp build of the head-pair kernel
  // (every case above); 32 KV heads at splitPages 1 and 3 (3 × 16 × 32 and 3 × 6 × 32 blocks, more than 2
  // per SM up to 288 SMs) run the 4-warp one, and the 8-warp one again at one split
  for (const [preset, layer] of [
    ['aqua-2.5', 1],
    ['kvq-2', 1],
  ] as const)
    out.push({ layout: { ...L(h(preset, layer), 64), kvHeads: 32 }, group: 4, kernel: 'auto' });
  // value scales ride in the fp16 softmax weights: small values (AQUA residuals of well-predicted layers)
  out.push({ layout: L(h('kvq-2', 1), 64), group: 4, kernel: 'auto', valueScale: 1e-3 });
  out.push({ layout: L(h('aqua-2.5', 1), 128), group: 8, kernel: 'tensor-core', valueScale: 1e-3 });
  return out;
}

describe('tensorCoreApplies', () => {
  it('accepts the KIVI formats the tensor-core kernel handles and refuses the others', () => {
    expect(tensorCoreApplies(L(u(2, 32, 2, 32), 128), 4)).toBe(true);
    expect(tensorCoreApplies(L(u(4, 128, 2, 128), 128), 8)).toBe(true);
    expect(tensorCoreApplies(L(u(2, 32, 2, 8), 128), 4)).toBe(false); // value groups < 16 channels
    expect(tensorCoreApplies(L(u(2, 64, 2, 32), 96), 4)).toBe(false); // key groups do not divide pages
    expect(tensorCoreApplies(L(u(2, 32, 2, 32), 128), 16)).toBe(false); // more than 8 heads per KV head
    expect(tensorCoreApplies(L({ kind: 'fp16' }, 128), 4)).toBe(true);
    expect(tensorCoreApplies(L({ kind: 'fp16' }, 128), 16)).toBe(false);
  });
});

describe('HIGGS pages', () => {
  it('every HIGGS layer of the built-in presets is a width the fused kernel handles', () => {
    for (const name of ['aqua-3', 'aqua-2.5', 'aqua-2', 'kvq-2']) {
      for (let layer = 0; layer < 12; layer++) {
        const q = layerQuantizers(getPreset(name), layer);
        expect(
          higgsAttentionUnsupported(q.keys as HiggsSpec, q.values as HiggsSpec),
          `${name} layer ${layer}`,
        ).toBe(null);
      }
    }
  });
  it('refuses Hadamard blocks other than one head and widths it is not compiled for, saying which', () => {
    const spec = (bits: number, dim: 1 | 2, block = 128): HiggsSpec => ({
      kind: 'higgs',
      bits,
      dim,
      block,
      seed: 1,
    });
    expect(higgsAttentionUnsupported(spec(2, 2, 64), spec(2, 2))).toMatch(/keys: Hadamard block 64/);
    expect(higgsAttentionUnsupported(spec(3, 1), spec(2, 2))).toMatch(/pair codes 6\/4 bits/);
    expect(tensorCoreApplies(L({ kind: 'higgs', keys: spec(2.5, 2), values: spec(2, 2) }, 64), 4)).toBe(true);
    expect(tensorCoreApplies(L({ kind: 'higgs', keys: spec(2.5, 2), values: spec(2, 2) }, 48), 4)).toBe(
      false,
    );
    expect(tensorCoreApplies(L({ kind: 'higgs', keys: spec(2.5, 2), values: spec(2, 2) }, 64), 16)).toBe(
      false,
    );
  });
});

describe('defaultSplitPages', () => {
  const higgs = {
    kind: 'higgs',
    keys: { kind: 'higgs', bits: 2.5, dim: 2, block: 128, seed: 1 },
    values: { kind: 'higgs', bits: 2, dim: 2, block: 128, seed: 1 },
  } as const;
  it('spreads small batches over about 2 blocks per SM and caps long runs by kernel', () => {
    // Llama-3.1-8B: 8 KV heads, pages of 128 tokens, 132 SMs
    expect(defaultSplitPages(1, 8, 256, 132, u(2, 128, 2, 128))).toBe(8); // B=1, 32k
    expect(defaultSplitPages(1, 8, 1024, 132, higgs)).toBe(32); // B=1, 128k
    expect(defaultSplitPages(16, 8, 256, 132, u(2, 128, 2, 128))).toBe(32); // uniform cap
    expect(defaultSplitPages(16, 8, 256, 132, higgs)).toBe(64); // HIGGS cap
    expect(defaultSplitPages(16, 8, 32, 132, higgs)).toBe(16); // B=16, 4k
    expect(defaultSplitPages(1, 1, 2, 132, higgs)).toBe(2); // never more than the pages
    expect(defaultSplitPages(64, 8, 2048, 132)).toBe(16); // fp16 / scalar kernels
  });
});

describe.skipIf(!hasGpu)(`paged decode attention vs the CPU reference${skipReason}`, () => {
  for (const { layout, group, kernel, valueScale = 1 } of cases) {
    const vsName = valueScale === 1 ? '' : `, values ×${valueScale}`;
    it(`${JSON.stringify(layout.format)}, P=${layout.pageTokens}, ${group} q heads per KV head, ${kernel} kernel${vsName}: batch of 3 different lengths, shuffled pages, splits`, () => {
      const rng = new SeededRandom(99);
      const Hq = group * layout.kvHeads;
      const lens = Int32Array.from([1000, 1, 333]);
      const P = layout.pageTokens;
      const maxPages = Math.ceil(1000 / P);
      const totalPages = maxPages * 3;
      using pool = new PagedKVPool(layout, totalPages);
      const n = P * layout.kvHeads * 128;
      for (let i = 0; i < totalPages; i++) {
        const k = rng.normalArray(n);
        for (let j = 0; j < n; j += 37) k[j]! *= 5;
        const v = rng.normalArray(n);
        for (let j = 0; j < n; j++) v[j]! *= valueScale;
        pool.writePage(i, k, v);
      }
      const perm = Int32Array.from({ length: totalPages }, (_, i) => i);
      for (let i = totalPages - 1; i > 0; i--) {
        const j = Math.floor(rng.next() * (i + 1));
        [perm[i], perm[j]] = [perm[j]!, perm[i]!];
      }
      const q16 = float32ToFloat16Bits(rng.normalArray(3 * Hq * 128));
      for (const splitPages of [1, 3, maxPages]) {
        using q = DeviceBuffer.from(q16);
        using table = DeviceBuffer.from(perm);
        using lensD = DeviceBuffer.from(lens);
        using out = new DeviceBuffer(q16.byteLength);
        using partial = new DeviceBuffer(partialBytes(3, Hq, maxPages, splitPages));
        out.write(new Uint16Array(q16.length).fill(0x7e00)); // NaN poison
        decodeAttention({
          pool,
          query: q,
          pageTable: table,
          lengths: lensD,
          out,
          partial,
          batch: 3,
          queryHeads: Hq,
          maxPages,
          splitPages,
          kernel,
        });
        const got16 = out.read(new Uint16Array(q16.length));
        const t16 = float16Table();
        const got = Float32Array.from(got16, (h) => t16[h]!);
        const bytes = pool.buffer.read(new Uint8Array(pool.buffer.bytes));
        const ref = referenceDecodeAttention(layout, bytes, pool.pageBytes, q16, perm, lens, maxPages, Hq);
        expect(relL2(got, ref), `splitPages ${splitPages}`).toBeLessThanOrEqual(2e-3);
      }
    });
  }
  it('the tensor-core kernel on a format it does not handle is an InvalidArgumentError', () => {
    const layout = L(u(2, 32, 2, 8), 64);
    using pool = new PagedKVPool(layout, 1);
    using q = new DeviceBuffer(8 * 128 * 2);
    using table = DeviceBuffer.from(new Int32Array([0]));
    using lensD = DeviceBuffer.from(new Int32Array([64]));
    using out = new DeviceBuffer(8 * 128 * 2);
    using partial = new DeviceBuffer(partialBytes(1, 8, 1, 1));
    const args = {
      pool,
      query: q,
      pageTable: table,
      lengths: lensD,
      out,
      partial,
      batch: 1,
      queryHeads: 8,
      maxPages: 1,
      splitPages: 1,
    };
    expect(() => decodeAttention({ ...args, kernel: 'tensor-core' })).toThrow(InvalidArgumentError);
    expect(() => decodeAttention({ ...args, queryHeads: 6 })).toThrow(InvalidArgumentError);
  });
});
