import { HiggsQuantizer, PassthroughQuantizer, UniformQuantizer, float16Table } from '@kvq/core';
import type { PagedLayout } from '../src/index.js';

/**
 * Page index → its keys and values decoded with @kvq/core's quantizers from the pool's bytes, fp32
 * `[P, Hkv, 128]` (memoized).
 */
export function poolPageDecoder(
  layout: PagedLayout,
  poolBytes: Uint8Array,
  pageBytes: number,
): (i: number) => { k: Float32Array; v: Float32Array } {
  const P = layout.pageTokens;
  const Hkv = layout.kvHeads;
  const D = 128;
  const C = Hkv * D;
  const shape = { tokens: P, kvHeads: Hkv, headDim: D };
  const cache = new Map<number, { k: Float32Array; v: Float32Array }>();
  const page = (i: number) => {
    let p = cache.get(i);
    if (p) return p;
    const bytes = poolBytes.subarray(i * pageBytes, (i + 1) * pageBytes);
    if (layout.format.kind === 'fp16') {
      const q = new PassthroughQuantizer({ kind: 'fp16' });
      const half = P * C * 2;
      p = {
        k: q.decode({ shape, bytes: bytes.slice(0, half) }),
        v: q.decode({ shape, bytes: bytes.slice(half) }),
      };
    } else if (layout.format.kind === 'higgs') {
      const kq = new HiggsQuantizer(layout.format.keys);
      const vq = new HiggsQuantizer(layout.format.values);
      const kb = kq.encodedBytes(shape);
      p = {
        k: kq.decode({ shape, bytes: bytes.slice(0, kb) }),
        v: vq.decode({ shape, bytes: bytes.slice(kb, kb + vq.encodedBytes(shape)) }),
      };
    } else {
      const f = layout.format;
      const kq = new UniformQuantizer({ kind: 'uniform', bits: f.bitsK, axis: 'channel', groupSize: f.gsK });
      const vq = new UniformQuantizer({ kind: 'uniform', bits: f.bitsV, axis: 'token', groupSize: f.gsV });
      const kb = kq.encodedBytes(shape);
      p = {
        k: kq.decode({ shape, bytes: bytes.slice(0, kb) }),
        v: vq.decode({ shape, bytes: bytes.slice(kb, kb + vq.encodedBytes(shape)) }),
      };
    }
    cache.set(i, p);
    return p;
  };
  return page;
}

/**
 * CPU reference of paged decode attention: pages decoded with @kvq/core's quantizers from the
 * pool's bytes, attention in float64. q is fp16 bits [B, Hq, 128]; returns fp32 [B, Hq, 128].
 */
export function referenceDecodeAttention(
  layout: PagedLayout,
  poolBytes: Uint8Array,
  pageBytes: number,
  q16: Uint16Array,
  table: Int32Array,
  lens: Int32Array,
  maxPages: number,
  Hq: number,
): Float32Array {
  const page = poolPageDecoder(layout, poolBytes, pageBytes);
  return referenceAttentionOverPages(page, layout.pageTokens, layout.kvHeads, q16, table, lens, maxPages, Hq);
}

/**
 * Decode attention in float64 over pages given as decoded fp32 keys and values `[P, Hkv, 128]` (page
 * index → K/V), q fp16 bits [B, Hq, 128]; returns fp32 [B, Hq, 128] (0 for an empty sequence).
 */
export function referenceAttentionOverPages(
  page: (i: number) => { k: Float32Array; v: Float32Array },
  P: number,
  Hkv: number,
  q16: Uint16Array,
  table: Int32Array,
  lens: Int32Array,
  maxPages: number,
  Hq: number,
): Float32Array {
  const D = 128;
  const t16 = float16Table();
  const B = lens.length;
  const out = new Float32Array(B * Hq * D);
  const scale = 1 / Math.sqrt(D);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < Hq; h++) {
      const kh = Math.floor(h / (Hq / Hkv));
      const qv = Array.from({ length: D }, (_, d) => t16[q16[(b * Hq + h) * D + d]!]!);
      const s = new Float64Array(lens[b]!);
      let m = Number.NEGATIVE_INFINITY;
      for (let t = 0; t < lens[b]!; t++) {
        const pg = page(table[b * maxPages + Math.floor(t / P)]!);
        const o = ((t % P) * Hkv + kh) * D;
        let dot = 0;
        for (let d = 0; d < D; d++) dot += qv[d]! * pg.k[o + d]!;
        s[t] = dot * scale;
        if (s[t]! > m) m = s[t]!;
      }
      let l = 0;
      const acc = new Float64Array(D);
      for (let t = 0; t < lens[b]!; t++) {
        const p = Math.exp(s[t]! - m);
        l += p;
        const pg = page(table[b * maxPages + Math.floor(t / P)]!);
        const o = ((t % P) * Hkv + kh) * D;
        for (let d = 0; d < D; d++) acc[d]! += p * pg.v[o + d]!;
      }
      for (let d = 0; d < D; d++) out[(b * Hq + h) * D + d] = lens[b]! > 0 ? acc[d]! / l : 0;
    }
  }
  return out;
}
