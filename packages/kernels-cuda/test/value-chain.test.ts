import {
  type AquaAdapters,
  type HiggsSpec,
  InvalidArgumentError,
  type LayerAdapter,
  SeededRandom,
  float16Table,
  float32ToFloat16Bits,
  getPreset,
  layerQuantizers,
  randomSigns,
} from '@kvq/core';
import { relL2 } from '@kvq/core/testing';
import { describe, expect, it } from 'vitest';
import {
  DeviceBuffer,
  PagedKVPool,
  type PagedLayout,
  type RopeDiagonalKeyMap,
  ValueChainMaps,
  type ValuePredictorBlocks,
  decodeAttentionValueChain,
  foldKeyChain,
  foldValueChain,
  partialBytes,
  ropePartners,
  valueChainFromAdapters,
  valueSignsOf,
} from '../src/index.js';
import { hasGpu, skipReason } from './gpu.js';
import { poolPageDecoder, referenceAttentionOverPages } from './paged-reference.js';

const D = 128;

function randomPredictors(rng: SeededRandom, n: number, H: number, gain = 0.5): ValuePredictorBlocks[] {
  return Array.from({ length: n }, () => ({
    weight: Float32Array.from(rng.normalArray(H * D * D), (x) => (x * gain) / Math.sqrt(D)),
    bias: Float32Array.from(rng.normalArray(H * D), (x) => 0.3 * x),
  }));
}

/** v · W + b + r for one head's row vectors (W [D, D], row d = input channel d). */
function predictRow(v: Float64Array, W: Float32Array, b: Float32Array, r: ArrayLike<number>): Float64Array {
  const out = new Float64Array(D);
  for (let e = 0; e < D; e++) {
    let s = b[e]! + r[e]!;
    for (let d = 0; d < D; d++) s += v[d]! * W[d * D + e]!;
    out[e] = s;
  }
  return out;
}

/**
 * The values of layer l of one head from its chain's stored values `stored[j]` (j = 0: layer l's
 * residual, last: the anchor's values), by the recursion the predictors define.
 */
function reconstruct(
  stored: readonly ArrayLike<number>[],
  preds: readonly ValuePredictorBlocks[],
  h: number,
): Float64Array {
  let v: Float64Array = Float64Array.from(stored[stored.length - 1]!);
  for (let j = stored.length - 2; j >= 0; j--) {
    const p = preds[j]!;
    v = predictRow(
      v,
      p.weight.subarray(h * D * D, (h + 1) * D * D),
      p.bias.subarray(h * D, (h + 1) * D),
      stored[j]!,
    );
  }
  return v;
}

/** Random RoPE-diagonal key maps: per RoPE pair one complex scalar of modulus 0.5–1, real elsewhere. */
function randomKeyMaps(rng: SeededRandom, n: number, H: number, partner: Int32Array): RopeDiagonalKeyMap[] {
  return Array.from({ length: n }, () => {
    const a = new Float32Array(H * D);
    const b = new Float32Array(H * D);
    for (let h = 0; h < H; h++)
      for (let d = 0; d < D; d++) {
        const p = partner[d]!;
        if (p === d) a[h * D + d] = 0.5 + 0.5 * rng.next();
        else if (d < p) {
          const r = 0.5 + 0.5 * rng.next();
          const phi = 2 * Math.PI * rng.next();
          a[h * D + d] = a[h * D + p] = r * Math.cos(phi);
          b[h * D + d] = -r * Math.sin(phi);
          b[h * D + p] = r * Math.sin(phi);
        }
      }
    return { a, b };
  });
}

/** y = W·x for a RoPE-diagonal map, one head. */
function applyKeyMap(
  m: RopeDiagonalKeyMap,
  h: number,
  partner: Int32Array,
  x: ArrayLike<number>,
): Float64Array {
  return Float64Array.from(
    { length: D },
    (_, d) => m.a[h * D + d]! * x[d]! + m.b[h * D + d]! * x[partner[d]!]!,
  );
}

/** Layer l's keys of one head from its chain's stored keys (j = 0: layer l's residual, last: the anchor's). */
function reconstructKeys(
  stored: readonly ArrayLike<number>[],
  maps: readonly RopeDiagonalKeyMap[],
  h: number,
  partner: Int32Array,
): Float64Array {
  let k: Float64Array = Float64Array.from(stored[stored.length - 1]!);
  for (let j = stored.length - 2; j >= 0; j--) {
    const w = applyKeyMap(maps[j]!, h, partner, k);
    k = Float64Array.from(w, (x, d) => x + stored[j]![d]!);
  }
  return k;
}

describe('foldKeyChain', () => {
  it('Σ_j (fold_j q)·R_j equals q · the keys reconstructed through the chain (interleaved, neox, partial rotary)', () => {
    const rng = new SeededRandom(12);
    for (const [style, dims] of [
      ['interleaved', 128],
      ['neox', 128],
      ['neox', 64],
    ] as const) {
      const partner = ropePartners(style, dims);
      for (const layers of [2, 3, 4]) {
        const H = 2;
        const maps = randomKeyMaps(rng, layers - 1, H, partner);
        const f = foldKeyChain(maps, H, partner);
        for (let h = 0; h < H; h++) {
          const R = Array.from({ length: layers }, () => rng.normalArray(D));
          const q = rng.normalArray(D);
          const k = reconstructKeys(R, maps, h, partner);
          let want = 0;
          for (let d = 0; d < D; d++) want += q[d]! * k[d]!;
          let got = 0;
          for (let d = 0; d < D; d++) got += q[d]! * R[0]![d]!;
          for (let j = 1; j < layers; j++) {
            const o = ((j - 1) * H + h) * D * 2;
            for (let d = 0; d < D; d++)
              got += (f.fold[o + 2 * d]! * q[d]! + f.fold[o + 2 * d + 1]! * q[partner[d]!]!) * R[j]![d]!;
          }
          expect(Math.abs(got - want), `${style}/${dims} layers ${layers}`).toBeLessThan(
            1e-4 * (1 + Math.abs(want)),
          );
        }
      }
    }
  });

  it('refuses maps that do not commute with RoPE and bad partners', () => {
    const rng = new SeededRandom(13);
    const partner = ropePartners('interleaved');
    const maps = randomKeyMaps(rng, 1, 2, partner);
    maps[0]!.b[5] = maps[0]!.b[5]! + 0.25; // channels 4 and 5 no longer one complex scalar
    expect(() => foldKeyChain(maps, 2, partner)).toThrow(/does not commute with RoPE/);
    expect(() => foldKeyChain(randomKeyMaps(rng, 1, 2, partner), 2, new Int32Array(D))).toThrow(/involution/);
    expect(() => foldKeyChain([], 2, partner)).toThrow(/1 to 3/);
    expect(() => ropePartners('neox', 7)).toThrow(InvalidArgumentError);
  });
});

describe('foldValueChain', () => {
  it('Σ_j ŷ_j·maps[j] + bias equals the chain of predictors applied to the unrotated means', () => {
    const rng = new SeededRandom(5);
    const signs = randomSigns(3, D);
    // the Walsh–Hadamard matrix, built independently of the butterflies: H[i][j] = (−1)^popcount(i & j)
    const Hm = (i: number, j: number) => {
      let x = i & j;
      let c = 0;
      while (x) {
        c ^= x & 1;
        x >>= 1;
      }
      return c ? -1 : 1;
    };
    for (const layers of [2, 3, 4]) {
      const H = 2;
      const preds = randomPredictors(rng, layers - 1, H);
      const f = foldValueChain(preds, H, signs);
      expect(f.layers).toBe(layers);
      for (let h = 0; h < H; h++) {
        const yhat = Array.from({ length: layers }, () => rng.normalArray(D));
        // values in the channel domain: signs ⊙ H·ŷ / √D
        const z = yhat.map((y) =>
          Float64Array.from({ length: D }, (_, t) => {
            let s = 0;
            for (let d = 0; d < D; d++) s += Hm(t, d) * y[d]!;
            return (signs[t]! * s) / Math.sqrt(D);
          }),
        );
        const want = reconstruct(z, preds, h);
        const got = new Float64Array(D);
        for (let e = 0; e < D; e++) {
          let s = f.bias[h * D + e]!;
          for (let j = 0; j < layers; j++)
            for (let d = 0; d < D; d++) s += yhat[j]![d]! * f.maps[((j * H + h) * D + d) * D + e]!;
          got[e] = s;
        }
        expect(relL2(Float32Array.from(got), Float32Array.from(want))).toBeLessThan(1e-5);
      }
    }
  });

  it('refuses chains it cannot run and malformed predictors, saying what is wrong', () => {
    const rng = new SeededRandom(6);
    const signs = randomSigns(1, D);
    expect(() => foldValueChain([], 2, signs)).toThrow(/1 to 3/);
    expect(() => foldValueChain(randomPredictors(rng, 4, 2), 2, signs)).toThrow(InvalidArgumentError);
    expect(() => foldValueChain(randomPredictors(rng, 1, 1), 2, signs)).toThrow(/\[2, 128, 128\]/);
    const bad = randomPredictors(rng, 1, 2);
    bad[0]!.weight[7] = Number.NaN;
    expect(() => foldValueChain(bad, 2, signs)).toThrow(/non-finite weight/);
    expect(() => foldValueChain(randomPredictors(rng, 1, 2), 2, new Float32Array(D).fill(0.5))).toThrow(/±1/);
  });
});

describe('valueChainFromAdapters', () => {
  const H = 2;
  const C = H * D;
  const layout = { layers: 6, queryHeads: 8, kvHeads: H, headDim: D };
  /** a layer predicting values per head from V_{l−1} (entry (o, C + i) within head blocks) */
  const predicted = (rng: SeededRandom): LayerAdapter => {
    const valueWeight = new Float32Array(C * 2 * C);
    for (let o = 0; o < C; o++)
      for (let i = 0; i < D; i++) valueWeight[o * 2 * C + C + Math.floor(o / D) * D + i] = rng.normal() / 16;
    return {
      keyWeight: new Float32Array(C * C),
      keyBias: new Float32Array(C),
      valueWeight,
      valueBias: Float32Array.from(rng.normalArray(C)),
    };
  };
  const anchor: LayerAdapter = {
    keyWeight: new Float32Array(C * C),
    keyBias: new Float32Array(C),
    valueWeight: new Float32Array(2 * C * C),
    valueBias: new Float32Array(C),
  };
  const adapters = (layers: (LayerAdapter | null)[]): AquaAdapters => ({
    layout,
    model: { name: 't' },
    layers,
  });

  it('walks back to the anchor and extracts the per-head blocks in the kernel layout', () => {
    const rng = new SeededRandom(8);
    const l1 = predicted(rng);
    const l2 = predicted(rng);
    const l4 = predicted(rng);
    const a = adapters([null, l1, l2, anchor, l4, null]);
    const c2 = valueChainFromAdapters(a, 2);
    expect(c2.anchor).toBe(0);
    expect(c2.predictors.length).toBe(2);
    // predictors[0] is layer 2's: weight[h][d][e] = valueWeight[h·D + e][C + h·D + d]
    const w = c2.predictors[0]!.weight;
    for (const [h, d, e] of [
      [0, 3, 5],
      [1, 127, 0],
      [1, 9, 64],
    ] as const)
      expect(w[(h * D + d) * D + e]).toBe(l2.valueWeight[(h * D + e) * 2 * C + C + h * D + d]);
    expect(Array.from(c2.predictors[1]!.bias)).toEqual(Array.from(l1.valueBias));
    expect(valueChainFromAdapters(a, 3)).toEqual({ anchor: 3, predictors: [], keyMaps: null });
    const c4 = valueChainFromAdapters(a, 4);
    expect(c4.anchor).toBe(3);
    expect(c4.predictors.length).toBe(1);
    expect(valueChainFromAdapters(a, 0)).toEqual({ anchor: 0, predictors: [], keyMaps: null });
  });

  it('reads RoPE-diagonal key predictors as key maps when given the rope, refuses other key predictors', () => {
    const rng = new SeededRandom(10);
    const partner = ropePartners('interleaved');
    const [m1, m2] = randomKeyMaps(rng, 2, H, partner);
    const withKeys = (m: RopeDiagonalKeyMap): LayerAdapter => {
      const keyWeight = new Float32Array(C * C);
      for (let o = 0; o < C; o++) {
        keyWeight[o * C + o] = m.a[o]!;
        const p = Math.floor(o / D) * D + partner[o % D]!;
        if (p !== o) keyWeight[o * C + p] = m.b[o]!;
      }
      return { ...predicted(rng), keyWeight };
    };
    const a = adapters([null, withKeys(m1!), withKeys(m2!), anchor, null, null]);
    const c = valueChainFromAdapters(a, 2, { style: 'interleaved' });
    expect(c.anchor).toBe(0);
    expect(c.keyMaps?.length).toBe(2);
    expect(Array.from(c.keyMaps![0]!.a)).toEqual(Array.from(m2!.a));
    expect(Array.from(c.keyMaps![1]!.b)).toEqual(Array.from(m1!.b));
    expect(() => valueChainFromAdapters(a, 2)).toThrow(/pass the model's rope/);
    // the wrong pairing reads entries off the pairs
    expect(() => valueChainFromAdapters(a, 2, { style: 'neox' })).toThrow(/does not commute with RoPE/);
    const biased = { ...withKeys(m1!), keyBias: new Float32Array(C).fill(0.5) };
    expect(() =>
      valueChainFromAdapters(adapters([null, biased, null, null, null, null]), 1, { style: 'interleaved' }),
    ).toThrow(/has a bias/);
    expect(valueChainFromAdapters(adapters([null, predicted(rng), null, null, null, null]), 1).keyMaps).toBe(
      null,
    );
  });

  it('says why adapters do not fold: key predictors, values from keys, mixed heads, long chains', () => {
    const rng = new SeededRandom(9);
    const keys = { ...predicted(rng), keyBias: new Float32Array(C).fill(0.1) };
    expect(() => valueChainFromAdapters(adapters([null, keys, null, null, null, null]), 1)).toThrow(
      /predicts its keys/,
    );
    const fromKeys = predicted(rng);
    fromKeys.valueWeight[5 * 2 * C + 17] = 0.5;
    expect(() => valueChainFromAdapters(adapters([null, fromKeys, null, null, null, null]), 1)).toThrow(
      /from its keys/,
    );
    const mixed = predicted(rng);
    mixed.valueWeight[3 * 2 * C + C + D + 1] = 0.5; // output head 0 from input head 1
    expect(() => valueChainFromAdapters(adapters([null, mixed, null, null, null, null]), 1)).toThrow(
      /mixes KV heads/,
    );
    const long = adapters([null, predicted(rng), predicted(rng), predicted(rng), predicted(rng), null]);
    expect(valueChainFromAdapters(long, 3).predictors.length).toBe(3);
    expect(() => valueChainFromAdapters(long, 4)).toThrow(/more than 3 predicted layers/);
    expect(() => valueChainFromAdapters(long, 6)).toThrow(InvalidArgumentError);
    expect(() => valueChainFromAdapters({ ...long, layout: { ...layout, headDim: 64 } }, 1)).toThrow(
      /head dim 64/,
    );
  });
});

const higgsFormat = (preset: string, layer: number): PagedLayout['format'] => {
  const q = layerQuantizers(getPreset(preset), layer);
  return { kind: 'higgs', keys: q.keys as HiggsSpec, values: q.values as HiggsSpec };
};

describe.skipIf(!hasGpu)(`value-chain decode attention vs the CPU reference${skipReason}`, () => {
  const cases = [
    { preset: 'aqua-2.5', layers: 2, group: 4, P: 64, keys: false },
    { preset: 'aqua-2.5', layers: 3, group: 2, P: 32, keys: false },
    { preset: 'aqua-2.5', layers: 4, group: 4, P: 128, keys: false },
    { preset: 'aqua-2', layers: 4, group: 1, P: 64, keys: false },
    { preset: 'aqua-2', layers: 2, group: 3, P: 64, keys: false },
    { preset: 'aqua-2.5', layers: 2, group: 4, P: 64, keys: true },
    { preset: 'aqua-2.5', layers: 3, group: 4, P: 32, keys: true },
    { preset: 'aqua-2.5', layers: 4, group: 2, P: 128, keys: true },
    { preset: 'aqua-2', layers: 4, group: 4, P: 64, keys: true },
  ];
  for (const { preset, layers, group, P, keys } of cases) {
    it(`${preset} pages, ${layers} value layers${keys ? ' and key layers (RoPE-diagonal, neox)' : ''}, ${group} q heads per KV head, P=${P}: batch of 3 different lengths, shuffled pages, splits`, () => {
      const rng = new SeededRandom(41 + layers);
      const Hkv = 2;
      const Hq = group * Hkv;
      const layout: PagedLayout = {
        format: higgsFormat(preset, 1),
        pageTokens: P,
        kvHeads: Hkv,
        headDim: 128,
      };
      const lens = Int32Array.from([700, 1, 333]);
      const maxPages = Math.ceil(700 / P);
      const totalPages = maxPages * 3;
      const pools: PagedKVPool[] = [];
      try {
        for (let j = 0; j < layers; j++) pools.push(new PagedKVPool(layout, totalPages));
        const n = P * Hkv * 128;
        for (const pool of pools)
          for (let i = 0; i < totalPages; i++) pool.writePage(i, rng.normalArray(n), rng.normalArray(n));
        const perm = Int32Array.from({ length: totalPages }, (_, i) => i);
        for (let i = totalPages - 1; i > 0; i--) {
          const j = Math.floor(rng.next() * (i + 1));
          [perm[i], perm[j]] = [perm[j]!, perm[i]!];
        }
        const preds = randomPredictors(rng, layers - 1, Hkv);
        const partner = ropePartners('neox');
        const keyMaps = keys ? randomKeyMaps(rng, layers - 1, Hkv, partner) : null;
        using maps = new ValueChainMaps(
          foldValueChain(preds, Hkv, valueSignsOf(pools[0]!)),
          keyMaps ? foldKeyChain(keyMaps, Hkv, partner) : undefined,
        );
        // reference: every page's values of layer l reconstructed through the chain on the CPU
        const decoders = pools.map((p) =>
          poolPageDecoder(layout, p.buffer.read(new Uint8Array(p.buffer.bytes)), p.pageBytes),
        );
        const pages = new Map<number, { k: Float32Array; v: Float32Array }>();
        const page = (i: number) => {
          const done = pages.get(i);
          if (done) return done;
          const parts = decoders.map((dec) => dec(i));
          const v = new Float32Array(P * Hkv * D);
          const k = keyMaps ? new Float32Array(P * Hkv * D) : parts[0]!.k;
          for (let t = 0; t < P; t++)
            for (let h = 0; h < Hkv; h++) {
              const o = (t * Hkv + h) * D;
              v.set(
                reconstruct(
                  parts.map((x) => x.v.subarray(o, o + D)),
                  preds,
                  h,
                ),
                o,
              );
              if (keyMaps)
                k.set(
                  reconstructKeys(
                    parts.map((x) => x.k.subarray(o, o + D)),
                    keyMaps,
                    h,
                    partner,
                  ),
                  o,
                );
            }
          const kv = { k, v };
          pages.set(i, kv);
          return kv;
        };
        const q16 = float32ToFloat16Bits(rng.normalArray(3 * Hq * 128));
        const ref = referenceAttentionOverPages(page, P, Hkv, q16, perm, lens, maxPages, Hq);
        const t16 = float16Table();
        for (const splitPages of [1, 3, maxPages]) {
          using q = DeviceBuffer.from(q16);
          using table = DeviceBuffer.from(perm);
          using lensD = DeviceBuffer.from(lens);
          using out = new DeviceBuffer(q16.byteLength);
          using partial = new DeviceBuffer(partialBytes(3, Hq, maxPages, splitPages, layers));
          out.write(new Uint16Array(q16.length).fill(0x7e00)); // NaN poison
          decodeAttentionValueChain({
            pool: pools[0]!,
            chain: pools.slice(1),
            maps,
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
          const got = Float32Array.from(out.read(new Uint16Array(q16.length)), (h) => t16[h]!);
          expect(relL2(got, ref), `splitPages ${splitPages}`).toBeLessThanOrEqual(2e-3);
        }
      } finally {
        for (const p of pools) p.dispose();
      }
    });
  }

  it('refuses mismatched chains, maps and scratch with typed errors', () => {
    const layout: PagedLayout = {
      format: higgsFormat('aqua-2.5', 1),
      pageTokens: 32,
      kvHeads: 2,
      headDim: 128,
    };
    using a = new PagedKVPool(layout, 2);
    using b = new PagedKVPool(layout, 2);
    using c = new PagedKVPool(layout, 3);
    using other = new PagedKVPool({ ...layout, format: higgsFormat('aqua-2', 1) }, 2);
    const rng = new SeededRandom(3);
    using maps = new ValueChainMaps(foldValueChain(randomPredictors(rng, 1, 2), 2, valueSignsOf(a)));
    using q = new DeviceBuffer(8 * 128 * 2);
    using table = DeviceBuffer.from(new Int32Array([0]));
    using lensD = DeviceBuffer.from(new Int32Array([32]));
    using out = new DeviceBuffer(8 * 128 * 2);
    using partial = new DeviceBuffer(partialBytes(1, 8, 1, 1, 2));
    const args = {
      pool: a,
      chain: [b],
      maps,
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
    expect(() => decodeAttentionValueChain(args)).not.toThrow();
    expect(() => decodeAttentionValueChain({ ...args, chain: [c] })).toThrow(/differs/);
    expect(() => decodeAttentionValueChain({ ...args, chain: [other] })).toThrow(/differs/);
    expect(() => decodeAttentionValueChain({ ...args, chain: [b, b] })).toThrow(/maps for 2 value layers/);
    expect(() => decodeAttentionValueChain({ ...args, queryHeads: 16 })).toThrow(/1–4/);
    using small = new DeviceBuffer(partialBytes(1, 8, 1, 1, 1));
    expect(() => decodeAttentionValueChain({ ...args, partial: small })).toThrow(/too small/);
  });
});
