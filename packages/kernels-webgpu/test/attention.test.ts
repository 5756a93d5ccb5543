import { type CacheSegment, type QuantizerSpec, SeededRandom, createQuantizer } from '@kvq/core';
import { describe, expect, it } from 'vitest';
import { ropeTable } from '../src/index.js';
import { probe, refAttention, relErr, sharedBackend, title } from './gpu.js';

const p = await probe();

/** Applies RoPE in fp64 on the host to keys [N, H, D] (the reference for the GPU path). */
function ropeHost(
  k: Float32Array,
  N: number,
  H: number,
  D: number,
  cfg: { theta: number; dims: number; style: 'interleaved' | 'neox' },
) {
  const out = Float32Array.from(k);
  const tab = ropeTable(
    Int32Array.from({ length: N }, (_, i) => i),
    cfg,
    D,
  );
  const half = cfg.dims / 2;
  for (let t = 0; t < N; t++) {
    for (let h = 0; h < H; h++) {
      const base = (t * H + h) * D;
      for (let r = 0; r < half; r++) {
        const [a, b] =
          cfg.style === 'interleaved' ? [base + 2 * r, base + 2 * r + 1] : [base + r, base + r + half];
        const c = tab[(t * half + r) * 2]!;
        const s = tab[(t * half + r) * 2 + 1]!;
        const x0 = k[a]!;
        const x1 = k[b]!;
        out[a] = x0 * c - x1 * s;
        out[b] = x0 * s + x1 * c;
      }
    }
  }
  return out;
}

describe.skipIf(!p.ok)(title('Backend.attention over mixed segments vs an fp64 reference', p), () => {
  const cases = [
    {
      name: 'decode, GQA 4:2, one dense segment',
      Hq: 4,
      Hkv: 2,
      D: 16,
      segs: [['dense', 9]],
      qTokens: 1,
      rope: false,
    },
    {
      name: 'prefill chunk, GQA 6:2, encoded + dense, rope',
      Hq: 6,
      Hkv: 2,
      D: 16,
      segs: [
        ['k2v2', 16],
        ['fp8', 8],
        ['dense', 5],
      ],
      qTokens: 4,
      rope: true,
    },
    {
      name: 'MHA 2:2, k4v2 + fp16 segments, neox rope',
      Hq: 2,
      Hkv: 2,
      D: 32,
      segs: [
        ['k4v2', 32],
        ['fp16', 3],
      ],
      qTokens: 3,
      rope: true,
      neox: true,
    },
  ] as const;
  const SPECS: Record<string, [QuantizerSpec, QuantizerSpec]> = {
    k2v2: [
      { kind: 'uniform', bits: 2, axis: 'channel', groupSize: 8 },
      { kind: 'uniform', bits: 2, axis: 'token', groupSize: 16 },
    ],
    k4v2: [
      { kind: 'uniform', bits: 4, axis: 'channel', groupSize: 16 },
      { kind: 'uniform', bits: 2, axis: 'token', groupSize: 32 },
    ],
    fp8: [
      { kind: 'fp8', format: 'e4m3' },
      { kind: 'fp8', format: 'e4m3' },
    ],
    fp16: [{ kind: 'fp16' }, { kind: 'fp16' }],
  };
  for (const c of cases) {
    it(c.name, async () => {
      const b = await sharedBackend();
      const rng = new SeededRandom(7);
      const C = c.Hkv * c.D;
      const segments: CacheSegment[] = [];
      const Ks: Float32Array[] = [];
      const Vs: Float32Array[] = [];
      for (const [kind, tokens] of c.segs) {
        const keys = rng.normalArray(tokens * C);
        const values = rng.normalArray(tokens * C);
        const shape = { tokens, kvHeads: c.Hkv, headDim: c.D };
        if (kind === 'dense') {
          segments.push({ kind: 'dense', tokens, keys, values });
          Ks.push(keys);
          Vs.push(values);
        } else {
          const [ks, vs] = SPECS[kind]!;
          const kq = createQuantizer(ks);
          const vq = createQuantizer(vs);
          const kb = kq.encode(keys, shape);
          const vb = vq.encode(values, shape);
          segments.push({ kind: 'encoded', tokens, keySpec: ks, valueSpec: vs, keys: kb, values: vb });
          Ks.push(kq.decode(kb));
          Vs.push(vq.decode(vb));
        }
      }
      const N = Ks.reduce((a, k) => a + k.length / C, 0);
      let K = new Float32Array(N * C);
      const V = new Float32Array(N * C);
      let off = 0;
      Ks.forEach((k, i) => {
        K.set(k, off);
        V.set(Vs[i]!, off);
        off += k.length;
      });
      const rope = c.rope
        ? ({ theta: 10000, dims: c.D, style: 'neox' in c ? 'neox' : 'interleaved' } as const)
        : undefined;
      if (rope) K = ropeHost(K, N, c.Hkv, c.D, rope);
      const qStart = N - c.qTokens;
      const query = rng.normalArray(c.qTokens * c.Hq * c.D);
      const got = await b.attention({
        query,
        qTokens: c.qTokens,
        queryHeads: c.Hq,
        kvHeads: c.Hkv,
        headDim: c.D,
        qStart,
        segments,
        rope,
      });
      const ref = refAttention(query, c.qTokens, c.Hq, c.Hkv, c.D, qStart, K, V, N);
      expect(got.length).toBe(ref.length);
      expect(relErr(got, ref)).toBeLessThan(1e-4);
    });
  }
});
