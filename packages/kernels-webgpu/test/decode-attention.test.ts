import {
  type EncodedBlock,
  InvalidArgumentError,
  type QuantizerSpec,
  SeededRandom,
  type UniformSpec,
  UnsupportedOpError,
  createQuantizer,
  packBits,
  toFloat16Bits,
} from '@kvq/core';
import { describe, expect, it } from 'vitest';
import {
  BufferScope,
  DecodeAttention,
  type DecodeAttentionOptions,
  GpuKvTensor,
  Recorder,
  createGpuContext,
} from '../src/index.js';
import { probe, refAttention, relErr, sharedBackend, title } from './gpu.js';
import { int8RefAttention } from './int8-ref.js';

const p = await probe();

const F16: QuantizerSpec = { kind: 'fp16' };
const FP8: QuantizerSpec = { kind: 'fp8', format: 'e4m3' };
const u = (bits: number, axis: 'channel' | 'token', groupSize: number): QuantizerSpec => ({
  kind: 'uniform',
  bits,
  axis,
  groupSize,
});

/** Small shapes: software Vulkan compiles each unrolled kernel with LLVM, and larger ones take minutes. */
const higgs = (bits: number, dim: 1 | 2, block: number, seed: number, scaleGain?: number): QuantizerSpec => ({
  kind: 'higgs',
  bits,
  dim,
  block,
  seed,
  ...(scaleGain !== undefined ? { scaleGain } : {}),
});

/** Random K/V of a case encoded block by block (and decoded on the CPU), and a query; same seed per shape. */
function encodeCase(c: {
  k: QuantizerSpec;
  v: QuantizerSpec;
  D: number;
  Hq: number;
  Hkv: number;
  B: number;
  N: number;
  bt: number;
}) {
  const rng = new SeededRandom(c.N * 7 + c.D);
  const C = c.Hkv * c.D;
  const shape = { batch: c.B, tokens: c.N, kvHeads: c.Hkv, headDim: c.D, blockTokens: c.bt };
  const kq = createQuantizer(c.k);
  const vq = createQuantizer(c.v);
  const kBlocks: EncodedBlock[][] = [];
  const vBlocks: EncodedBlock[][] = [];
  const Kraw: Float32Array[] = [];
  const Vraw: Float32Array[] = [];
  const Kdec: Float32Array[] = [];
  const Vdec: Float32Array[] = [];
  for (let s = 0; s < c.B; s++) {
    const K = rng.normalArray(c.N * C, 0.2, 1.5);
    const V = rng.normalArray(c.N * C);
    const kd = new Float32Array(c.N * C);
    const vd = new Float32Array(c.N * C);
    kBlocks.push([]);
    vBlocks.push([]);
    for (let j = 0; j < c.N / c.bt; j++) {
      const bs = { tokens: c.bt, kvHeads: c.Hkv, headDim: c.D };
      const kb = kq.encode(K.subarray(j * c.bt * C, (j + 1) * c.bt * C), bs);
      const vb = vq.encode(V.subarray(j * c.bt * C, (j + 1) * c.bt * C), bs);
      kBlocks[s]!.push(kb);
      vBlocks[s]!.push(vb);
      kd.set(kq.decode(kb), j * c.bt * C);
      vd.set(vq.decode(vb), j * c.bt * C);
    }
    Kraw.push(K);
    Vraw.push(V);
    Kdec.push(kd);
    Vdec.push(vd);
  }
  const q = rng.normalArray(c.B * c.Hq * c.D);
  return { shape, kBlocks, vBlocks, Kraw, Vraw, Kdec, Vdec, q };
}

const CASES: {
  name: string;
  k: QuantizerSpec;
  v: QuantizerSpec;
  D: number;
  Hq: number;
  Hkv: number;
  B: number;
  N: number;
  bt: number;
  span?: number;
  tpi: number;
  noSubgroups?: boolean;
  /** which kernel must run (the default choice is checked) */
  kernel: 'token' | 'lane';
  /** force this kernel (else the default choice) */
  force?: boolean;
  tpt?: number;
  tiles?: number;
  tuning?: { vunroll?: boolean; vbatch?: number; lazy?: boolean; dbuf?: boolean };
  /** why this case is left out on software adapters (unless KVQ_WEBGPU_ALL_CASES=1) */
  slowOnSoftware?: string;
}[] = [
  { name: 'fp16', k: F16, v: F16, D: 64, Hq: 4, Hkv: 2, B: 2, N: 96, bt: 32, tpi: 2, kernel: 'lane' },
  {
    name: 'fp16, Llama-3 head dim 128, GQA 4',
    k: F16,
    v: F16,
    D: 128,
    Hq: 8,
    Hkv: 2,
    B: 1,
    N: 64,
    bt: 64,
    tpi: 1,
    kernel: 'lane',
  },
  { name: 'fp8', k: FP8, v: FP8, D: 64, Hq: 2, Hkv: 1, B: 1, N: 80, bt: 16, tpi: 1, kernel: 'lane' },
  {
    name: 'kivi-2 (k2 channel g32, v2 token g32)',
    k: u(2, 'channel', 32),
    v: u(2, 'token', 32),
    D: 64,
    Hq: 4,
    Hkv: 2,
    B: 2,
    N: 128,
    bt: 64,
    span: 4,
    tpi: 2,
    kernel: 'token',
  },
  {
    name: 'kivi-2 (lane kernel)',
    k: u(2, 'channel', 32),
    v: u(2, 'token', 32),
    D: 64,
    Hq: 4,
    Hkv: 2,
    B: 2,
    N: 128,
    bt: 64,
    span: 4,
    tpi: 2,
    kernel: 'lane',
    force: true,
  },
  {
    name: 'kivi-2',
    k: u(2, 'channel', 32),
    v: u(2, 'token', 32),
    D: 64,
    Hq: 2,
    Hkv: 2,
    B: 1,
    N: 64,
    bt: 64,
    tpi: 1,
    noSubgroups: true,
    kernel: 'token',
    tpt: 1,
  },
  {
    name: 'k4v2 (k4 channel g16, v2 token g64), GQA 3',
    k: u(4, 'channel', 16),
    v: u(2, 'token', 64),
    D: 64,
    Hq: 6,
    Hkv: 2,
    B: 3,
    N: 64,
    bt: 32,
    tpi: 3,
    kernel: 'token',
  },
  {
    name: 'k3v1, unaligned codes, token groups of 8 < dims per lane',
    k: u(3, 'channel', 8),
    v: u(1, 'token', 8),
    D: 64,
    Hq: 1,
    Hkv: 1,
    B: 1,
    N: 40,
    bt: 8,
    tpi: 1,
    kernel: 'token',
  },
  {
    name: 'k8 + fp16 values, many chunks',
    k: u(8, 'channel', 4),
    v: F16,
    D: 64,
    Hq: 2,
    Hkv: 2,
    B: 1,
    N: 200,
    bt: 4,
    span: 4,
    tpi: 2,
    noSubgroups: true,
    kernel: 'lane',
  },
  {
    name: 'kivi-2 g128, head dim 128, GQA 4, several tiles per chunk',
    k: u(2, 'channel', 128),
    v: u(2, 'token', 128),
    D: 128,
    Hq: 8,
    Hkv: 2,
    B: 2,
    N: 768,
    bt: 256,
    tpi: 1,
    kernel: 'token',
    tiles: 2,
  },
  {
    name: 'kivi-2 g128, head dim 128, GQA 4, values unrolled, 1 token/thread, partial tile',
    slowOnSoftware:
      'values unrolled at 1 token/thread run here in the kivi-2 g64 case, and at head dim 128 in the H100 bench checks (kivi-2, k4v2, k3v2, aqua-2.5, kvq-2)',
    k: u(2, 'channel', 128),
    v: u(2, 'token', 128),
    D: 128,
    Hq: 8,
    Hkv: 2,
    B: 2,
    N: 640,
    bt: 128,
    tpi: 1,
    kernel: 'token',
    tpt: 1,
    tiles: 2,
    tuning: { vunroll: true },
  },
  {
    name: 'kivi-2 g64, GQA 4, values unrolled in batches of 4, lazy max, double-buffered, subgroup bias',
    k: u(2, 'channel', 128),
    v: u(2, 'token', 64),
    D: 64,
    Hq: 4,
    Hkv: 1,
    B: 1,
    N: 640,
    bt: 128,
    tpi: 1,
    kernel: 'token',
    tpt: 1,
    tiles: 3,
    tuning: { vunroll: true, vbatch: 4, lazy: true, dbuf: true },
  },
  {
    name: 'HIGGS K2/V2, GQA 4, values unrolled, lazy max, double-buffered',
    k: higgs(2, 2, 64, 11),
    v: higgs(2, 2, 64, 12),
    D: 64,
    Hq: 4,
    Hkv: 1,
    B: 2,
    N: 320,
    bt: 64,
    tpi: 1,
    kernel: 'token',
    tpt: 2,
    tuning: { vunroll: true, lazy: true, dbuf: true },
    slowOnSoftware:
      'non-default tuning knobs (lazy max, double buffering) on HIGGS; the kivi-2 case above runs them',
  },
  {
    name: 'aqua-2.5 HIGGS (K 2.5-bit 2-D, V 2-bit 2-D, gain), head dim 128, GQA 4, partial tile',
    k: higgs(2.5, 2, 128, 0x6b, 1.05),
    v: higgs(2, 2, 128, 0x76, 1.08),
    D: 128,
    Hq: 8,
    Hkv: 2,
    B: 2,
    N: 352,
    bt: 32,
    tpi: 1,
    kernel: 'token',
  },
  {
    name: 'HIGGS 4/4 1-D (AQUA layer 0), GQA 1',
    k: higgs(4, 1, 64, 7),
    v: higgs(4, 1, 64, 8),
    D: 64,
    Hq: 2,
    Hkv: 2,
    B: 1,
    N: 64,
    bt: 64,
    tpi: 1,
    kernel: 'token',
  },
  {
    name: 'HIGGS kvq-2 widths K1 (1-D) / V1.5 (2-D), GQA 4, without subgroups',
    k: higgs(1, 1, 64, 3),
    v: higgs(1.5, 2, 64, 4),
    D: 64,
    Hq: 4,
    Hkv: 1,
    B: 2,
    N: 200,
    bt: 8,
    tpi: 1,
    kernel: 'token',
    noSubgroups: true,
    tpt: 1,
  },
  {
    name: 'HIGGS K3/V3 2-D and K2/V1.5, mixed: K 3-bit 2-D, V 1.5-bit 2-D, GQA 4, 3 chunks',
    k: higgs(3, 2, 64, 5),
    v: higgs(1.5, 2, 64, 6),
    D: 64,
    Hq: 8,
    Hkv: 2,
    B: 1,
    N: 640,
    bt: 128,
    tpi: 1,
    kernel: 'token',
    tiles: 1,
  },
  {
    name: 'HIGGS K2/V2 2-D (kvq-2 typical), GQA 4',
    slowOnSoftware:
      'kvq-2 K2/V2 is checked against fp64 on the H100 by the WebGPU bench (3 kernel configurations), and the 2-D HIGGS path runs here in the aqua-2.5 and mixed cases',
    k: higgs(2, 2, 64, 9),
    v: higgs(2, 2, 64, 10),
    D: 64,
    Hq: 4,
    Hkv: 1,
    B: 1,
    N: 256,
    bt: 64,
    tpi: 1,
    kernel: 'token',
  },
];

describe.skipIf(!p.ok)(
  title('fused decode attention over encoded K/V vs fp64 attention on the CPU-decoded cache', p),
  () => {
    CASES.forEach((c) => {
      {
        const tpi = c.tpi;
        const noSubgroups = c.noSubgroups ?? false;
        const skip = p.software && c.slowOnSoftware !== undefined && process.env.KVQ_WEBGPU_ALL_CASES !== '1';
        const why = skip
          ? ` (skipped on a software adapter: ${c.slowOnSoftware}; KVQ_WEBGPU_ALL_CASES=1 runs it)`
          : '';
        it.skipIf(skip)(
          `${c.name} [${c.kernel}], B=${c.B} N=${c.N} Hq=${c.Hq} Hkv=${c.Hkv} D=${c.D}, ${tpi} tokens/iter${noSubgroups ? ', without subgroups' : ''}${why}`,
          async () => {
            const b = await sharedBackend();
            const ctx = b.ctx;
            const { shape, kBlocks, vBlocks, Kdec, Vdec, q } = encodeCase(c);
            using scope = new BufferScope(ctx);
            using kt = GpuKvTensor.fromBlocks(ctx, c.k, shape, kBlocks);
            using vt = GpuKvTensor.fromBlocks(ctx, c.v, shape, vBlocks);
            using attn = new DecodeAttention(
              ctx,
              { batch: c.B, tokens: c.N, queryHeads: c.Hq, kvHeads: c.Hkv, headDim: c.D },
              kt.tileFormat(),
              vt.tileFormat(),
              {
                span: c.span,
                noSubgroups,
                tokensPerIter: tpi,
                tokensPerThread: c.tpt,
                tilesPerChunk: c.tiles,
                ...(c.tuning ? { tuning: c.tuning } : {}),
                ...(c.force ? { kernel: c.kernel } : {}),
              },
            );
            expect(attn.kernel).toBe(c.kernel);
            if (noSubgroups) expect(attn.subgroups).toBe(false);
            const qb = scope.upload(q);
            const out = scope.create(q.byteLength);
            const got = await ctx.scoped('fused attention', async () => {
              const rec = new Recorder(ctx);
              attn.record(rec, qb, kt, vt, out);
              rec.submit();
              return new Float32Array(await out.read(q.byteLength));
            });
            for (let s = 0; s < c.B; s++) {
              const qs = q.subarray(s * c.Hq * c.D, (s + 1) * c.Hq * c.D);
              const ref = refAttention(qs, 1, c.Hq, c.Hkv, c.D, c.N - 1, Kdec[s]!, Vdec[s]!, c.N);
              expect(relErr(got.subarray(s * c.Hq * c.D, (s + 1) * c.Hq * c.D), ref)).toBeLessThan(1e-4);
            }
            // a software adapter compiles each fused kernel with LLVM: 10–30 s idle, several times that on a
            // loaded 2-core CI machine
          },
          p.software ? 600_000 : undefined,
        );
      }
    });
  },
);

/**
 * `keyDot: 'int8'` on the shapes of two cases above (their f32 kernels are compiled once for both
 * sections): kivi-2 g128 at head dim 128, GQA 4, 2 sequences, 3 tiles in chunks of 2; k4v2 (4-bit keys,
 * groups of 16, i.e. 16 key groups per tile), GQA 3, 3 sequences, 64 tokens in a tile of 256.
 */
const INT8_CASES = [
  [
    'kivi-2 g128, head dim 128, GQA 4, several tiles per chunk',
    'kivi-2 g128, head dim 128, GQA 4, B=2, 3 tiles in chunks of 2',
  ],
  ['k4v2 (k4 channel g16, v2 token g64), GQA 3', 'k4v2 g16/g64, GQA 3, B=3, 64 tokens of a 256-token tile'],
].map(([from, name]) => ({ ...CASES.find((c) => c.name.startsWith(from!))!, name: name! }));

describe.skipIf(!p.ok)(
  title("fused decode attention, keyDot 'int8' (query rounded to int8 per key group)", p),
  () => {
    for (const c of INT8_CASES) {
      let result: Promise<{
        f32: Float32Array;
        int8: Float32Array;
        data: ReturnType<typeof encodeCase>;
      }> | null = null;
      /** both key paths on the same data (the f32 kernel is the one the case above compiled) */
      const run = () => {
        result ??= (async () => {
          const { ctx } = await sharedBackend();
          const data = encodeCase(c);
          const ashape = { batch: c.B, tokens: c.N, queryHeads: c.Hq, kvHeads: c.Hkv, headDim: c.D };
          using scope = new BufferScope(ctx);
          using kt = GpuKvTensor.fromBlocks(ctx, c.k, data.shape, data.kBlocks);
          using vt = GpuKvTensor.fromBlocks(ctx, c.v, data.shape, data.vBlocks);
          const base = { tokensPerIter: c.tpi, tokensPerThread: c.tpt, tilesPerChunk: c.tiles };
          using a32 = new DecodeAttention(ctx, ashape, kt.tileFormat(), vt.tileFormat(), base);
          using a8 = new DecodeAttention(ctx, ashape, kt.tileFormat(), vt.tileFormat(), {
            ...base,
            keyDot: 'int8',
          });
          expect([a32.kernel, a32.keyDot, a8.kernel, a8.keyDot]).toEqual(['token', 'f32', 'token', 'int8']);
          const qb = scope.upload(data.q);
          const outs: Float32Array[] = [];
          for (const a of [a32, a8]) {
            const out = scope.create(data.q.byteLength);
            outs.push(
              await ctx.scoped('fused attention', async () => {
                const rec = new Recorder(ctx);
                a.record(rec, qb, kt, vt, out);
                rec.submit();
                return new Float32Array(await out.read(data.q.byteLength));
              }),
            );
          }
          return { f32: outs[0]!, int8: outs[1]!, data };
        })();
        return result;
      };
      const seq = (x: Float32Array, s: number) => x.subarray(s * c.Hq * c.D, (s + 1) * c.Hq * c.D);
      it(
        `${c.name}: matches the int8-query model (fp64 scores from the exact integer dots, fp64 softmax and values)`,
        async () => {
          const { int8, data } = await run();
          for (let s = 0; s < c.B; s++) {
            const ref = int8RefAttention(
              seq(data.q, s),
              c.Hq,
              c.Hkv,
              c.D,
              data.kBlocks[s]!,
              c.k as UniformSpec,
              data.Vdec[s]!,
            );
            expect(relErr(seq(int8, s), ref)).toBeLessThan(1e-4);
          }
        },
        p.software ? 600_000 : undefined,
      );
      it(
        `${c.name}: int8 − f32 output is < 10% of f32 − exact attention over the unquantized K/V (L2), and a 4-bit query is not`,
        async () => {
          const { f32, int8, data } = await run();
          const l2 = (a: ArrayLike<number>, b: ArrayLike<number>) => {
            let x = 0;
            for (let i = 0; i < a.length; i++) x += (a[i]! - b[i]!) ** 2;
            return Math.sqrt(x);
          };
          let dInt8 = 0;
          let dKv = 0;
          let dQ4 = 0;
          for (let s = 0; s < c.B; s++) {
            const qs = seq(data.q, s);
            const exact = refAttention(qs, 1, c.Hq, c.Hkv, c.D, c.N - 1, data.Kraw[s]!, data.Vraw[s]!, c.N);
            dInt8 += l2(seq(int8, s), seq(f32, s)) ** 2;
            dKv += l2(seq(f32, s), exact) ** 2;
            // control: the same model with the query rounded to 4 bits (|q| ≤ 7) must fail the bound
            const q4 = int8RefAttention(
              qs,
              c.Hq,
              c.Hkv,
              c.D,
              data.kBlocks[s]!,
              c.k as UniformSpec,
              data.Vdec[s]!,
              { qmax: 7 },
            );
            dQ4 += l2(q4, seq(f32, s)) ** 2;
          }
          const ratio = Math.sqrt(dInt8 / dKv);
          const ratioQ4 = Math.sqrt(dQ4 / dKv);
          console.log(
            `${c.name}: ‖int8 − f32‖ / ‖f32 − exact‖ = ${ratio.toFixed(4)}, 4-bit query ${ratioQ4.toFixed(4)}`,
          );
          expect(ratio).toBeLessThan(0.1);
          expect(ratioQ4).toBeGreaterThan(0.1);
        },
        p.software ? 600_000 : undefined,
      );
    }

    it(
      'k4v2 shape, crafted keys and query: ties of w·2^-e and f32 rounding of q·scale decide bytes, and the kernel rounds as modelled',
      async () => {
        // every key scale S = 1 + 2^-10 (fp16), query weights aimed at half-integer multiples of the step
        // 2^-10 (one channel per head at 127·2^-10, the edge of the step choice): qraw = fround(x / S) makes
        // the f32 product qraw·S land on the tie x while the exact product misses it by < 1 ulp
        const c = INT8_CASES[1]!;
        const { ctx } = await sharedBackend();
        const data = encodeCase(c);
        const C = c.Hkv * c.D;
        const S = 1 + 2 ** -10;
        const kq = createQuantizer(c.k);
        const bs = { tokens: c.bt, kvHeads: c.Hkv, headDim: c.D };
        const nGroups = (c.bt / 16) * C;
        const rng = new SeededRandom(77);
        const kBlocks = data.kBlocks.map((seqBlocks) =>
          seqBlocks.map(() => {
            const bytes = new Uint8Array(kq.encodedBytes(bs));
            const dv = new DataView(bytes.buffer);
            for (let g = 0; g < nGroups; g++) {
              dv.setUint16(2 * g, toFloat16Bits(S), true);
              dv.setUint16(2 * (nGroups + g), toFloat16Bits(rng.normal() * 0.05), true);
            }
            const codes = new Uint8Array(c.bt * C).map(() => Math.floor(rng.next() * 16));
            packBits(codes, 4, bytes.subarray(nGroups * 4));
            return { shape: bs, bytes } as EncodedBlock;
          }),
        );
        const q = new Float32Array(c.B * c.Hq * c.D);
        let ties = 0;
        for (let i = 0; i < q.length; i++) {
          const x = (i % c.D === 0 ? 127 : Math.floor(rng.next() * 200) - 99.5) * 2 ** -10;
          const qraw = Math.fround(x / S);
          q[i] = qraw * 8; // softmax scale 1/sqrt(64) = 2^-3: q·scale = qraw exactly
          if (Math.fround(qraw * S) === x && qraw * S !== x) ties++;
        }
        expect(ties).toBeGreaterThan(q.length / 4);
        using scope = new BufferScope(ctx);
        using kt = GpuKvTensor.fromBlocks(ctx, c.k, data.shape, kBlocks);
        using vt = GpuKvTensor.fromBlocks(ctx, c.v, data.shape, data.vBlocks);
        using a8 = new DecodeAttention(
          ctx,
          { batch: c.B, tokens: c.N, queryHeads: c.Hq, kvHeads: c.Hkv, headDim: c.D },
          kt.tileFormat(),
          vt.tileFormat(),
          { tokensPerIter: c.tpi, keyDot: 'int8' },
        );
        const qb = scope.upload(q);
        const out = scope.create(q.byteLength);
        const got = await ctx.scoped('fused attention', async () => {
          const rec = new Recorder(ctx);
          a8.record(rec, qb, kt, vt, out);
          rec.submit();
          return new Float32Array(await out.read(q.byteLength));
        });
        for (let s = 0; s < c.B; s++) {
          const qs = q.subarray(s * c.Hq * c.D, (s + 1) * c.Hq * c.D);
          const model = (v = {}) =>
            int8RefAttention(qs, c.Hq, c.Hkv, c.D, kBlocks[s]!, c.k as UniformSpec, data.Vdec[s]!, v);
          const ref = model();
          expect(relErr(got.subarray(s * c.Hq * c.D, (s + 1) * c.Hq * c.D), ref)).toBeLessThan(1e-4);
          // controls: rounding ties away from zero, or w = q·scale unrounded, would fail this tolerance here
          expect(relErr(model({ halfUp: true }), ref)).toBeGreaterThan(1e-4);
          expect(relErr(model({ exactW: true }), ref)).toBeGreaterThan(1e-4);
        }
      },
      p.software ? 600_000 : undefined,
    );

    it('throws UnsupportedOpError where it cannot run (no silent fallback)', async () => {
      const { ctx } = await sharedBackend();
      const D = 64;
      const ts = { batch: 1, tokens: 64, kvHeads: 1, headDim: D, blockTokens: 64 };
      const make = (k: QuantizerSpec, v: QuantizerSpec, o: DecodeAttentionOptions, c = ctx) => {
        using kt = new GpuKvTensor(c, k, ts, 'K');
        using vt = new GpuKvTensor(c, v, ts, 'V');
        using a = new DecodeAttention(
          c,
          { batch: 1, tokens: 64, queryHeads: 4, kvHeads: 1, headDim: D },
          kt.tileFormat(),
          vt.tileFormat(),
          o,
        );
        return a.keyDot;
      };
      const v2 = u(2, 'token', 64);
      const int8: DecodeAttentionOptions = { keyDot: 'int8' };
      expect(make(u(2, 'channel', 32), v2, {})).toBe('f32');
      expect(make(u(1, 'channel', 32), v2, int8)).toBe('int8');
      const cases: [QuantizerSpec, DecodeAttentionOptions, RegExp][] = [
        [higgs(2, 2, 64, 1), int8, /keyDot 'int8' over higgs keys/],
        [u(3, 'channel', 32), int8, /3-bit keys/],
        [u(8, 'channel', 32), int8, /8-bit keys/],
        [
          u(2, 'channel', 32),
          { ...int8, kernel: 'lane' },
          /needs the token-parallel kernel \(kernel: 'lane'/,
        ],
        [
          u(2, 'token', 32),
          int8,
          /needs the token-parallel kernel \(it cannot read these formats: token-axis/,
        ],
      ];
      for (const [k, o, msg] of cases) {
        expect(() => make(k, v2, o)).toThrow(UnsupportedOpError);
        expect(() => make(k, v2, o)).toThrow(msg);
      }
      expect(() => make(u(2, 'channel', 32), v2, { keyDot: 'f16' as 'f32' })).toThrow(InvalidArgumentError);
      // the same device, with no WGSL language features known (as for a caller's device in Node)
      using bare = await createGpuContext({ device: ctx.device, wgslLanguageFeatures: [] });
      expect(bare.features.packedDot4).toBe(false);
      expect(ctx.features.packedDot4).toBe(ctx.wgslLanguageFeatures.has('packed_4x8_integer_dot_product'));
      expect(() => make(u(2, 'channel', 32), v2, int8, bare)).toThrow(UnsupportedOpError);
      expect(() => make(u(2, 'channel', 32), v2, int8, bare)).toThrow(/packed_4x8_integer_dot_product/);
    });
  },
);
