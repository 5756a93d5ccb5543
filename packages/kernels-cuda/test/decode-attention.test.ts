import { SeededRandom, float16Table, float32ToFloat16Bits } from '@kvq/core';
import { relL2 } from '@kvq/core/testing';
import { describe, expect, it } from 'vitest';
import { DeviceBuffer, PagedKVPool, type PagedLayout, decodeAttention, partialBytes } from '../src/index.js';
import { hasGpu, skipReason } from './gpu.js';
import { referenceDecodeAttention } from './paged-reference.js';

const layouts: PagedLayout[] = [
  { format: { kind: 'fp16' }, pageTokens: 64, kvHeads: 2, headDim: 128 },
  {
    format: { kind: 'uniform', bitsK: 2, gsK: 32, bitsV: 2, gsV: 32 },
    pageTokens: 64,
    kvHeads: 2,
    headDim: 128,
  },
  {
    format: { kind: 'uniform', bitsK: 4, gsK: 32, bitsV: 2, gsV: 32 },
    pageTokens: 128,
    kvHeads: 2,
    headDim: 128,
  },
  {
    format: { kind: 'uniform', bitsK: 4, gsK: 64, bitsV: 4, gsV: 64 },
    pageTokens: 64,
    kvHeads: 2,
    headDim: 128,
  },
];

describe.skipIf(!hasGpu)(`paged decode attention vs the CPU reference${skipReason}`, () => {
  for (const layout of layouts) {
    it(`${JSON.stringify(layout.format)}, P=${layout.pageTokens}: batch of 3 different lengths, shuffled pages, splits`, () => {
      const rng = new SeededRandom(99);
      const Hq = 4 * layout.kvHeads;
      const lens = Int32Array.from([1000, 1, 333]);
      const P = layout.pageTokens;
      const maxPages = Math.ceil(1000 / P);
      const totalPages = maxPages * 3;
      using pool = new PagedKVPool(layout, totalPages);
      const n = P * layout.kvHeads * 128;
      for (let i = 0; i < totalPages; i++) {
        const k = rng.normalArray(n);
        for (let j = 0; j < n; j += 37) k[j]! *= 5;
        pool.writePage(i, k, rng.normalArray(n));
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
});
