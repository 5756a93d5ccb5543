import { describe, expect, it } from 'vitest';
import { createCpuBackend } from '../backend/cpu/cpu-backend.js';
import type { Backend, BackendOp, CacheSegment, RopeConfig } from '../backend/types.js';
import { createQuantizer } from '../quantizers/factory.js';
import type { QuantizerSpec } from '../quantizers/spec.js';
import type { BlockShape } from '../quantizers/types.js';
import { SeededRandom } from '../random.js';
import { CONFORMANCE_SPECS, CONFORMANCE_TOLERANCE, relL2 } from './cases.js';

export { CONFORMANCE_SPECS, CONFORMANCE_TOLERANCE, relL2 };

/** Options of {@link runConformance}. */
export interface ConformanceOptions {
  /** suite name prefix (default: the backend's name) */
  readonly name?: string;
  /** seed of the random inputs (default 1234) */
  readonly seed?: number;
  /** run only these ops */
  readonly ops?: readonly BackendOp[];
  /** a smaller set of shapes (for slow software GPUs) */
  readonly quick?: boolean;
  /**
   * why the backend cannot run on this machine (e.g. no device): every case is reported as skipped,
   * with this reason in the suite's name, and `createBackend` is never called
   */
  readonly skip?: string;
}

/** Heavy-tailed data with a few outlier channels, like real keys. */
function kvLike(rng: SeededRandom, shape: BlockShape): Float32Array {
  const c = shape.kvHeads * shape.headDim;
  const x = rng.normalArray(shape.tokens * c);
  for (let ch = 0; ch < c; ch += 17) for (let t = 0; t < shape.tokens; t++) x[t * c + ch]! *= 6;
  return x;
}

/**
 * The backend conformance suite: every op of `createBackend()`'s backend against the CPU reference
 * on seeded random inputs, with the tolerances of {@link CONFORMANCE_TOLERANCE}. Call it at the top
 * level of a vitest file. Ops the backend does not support (`supports(op) === false`) are reported
 * as skipped, with the reason.
 */
export function runConformance(createBackend: () => Promise<Backend>, opts: ConformanceOptions = {}): void {
  const seed = opts.seed ?? 1234;
  const wants = (op: BackendOp) => !opts.ops || opts.ops.includes(op);
  const shapes: BlockShape[] = opts.quick
    ? [
        { tokens: 7, kvHeads: 2, headDim: 64 },
        { tokens: 64, kvHeads: 2, headDim: 64 },
      ]
    : [
        { tokens: 1, kvHeads: 2, headDim: 64 },
        { tokens: 33, kvHeads: 2, headDim: 64 },
        { tokens: 128, kvHeads: 2, headDim: 64 },
        { tokens: 40, kvHeads: 8, headDim: 128 },
      ];
  const cpu = createCpuBackend();
  let backend: Backend;
  let name = opts.name ?? 'backend';

  const skipped = opts.skip !== undefined;
  describe.skipIf(skipped)(`conformance: ${name}${skipped ? ` (skipped: ${opts.skip})` : ''}`, () => {
    it('creates the backend', async () => {
      backend = await createBackend();
      name = backend.name;
      expect(backend.name).toBeTypeOf('string');
    });

    const opCase = (op: BackendOp, title: string, fn: () => Promise<void>) => {
      if (!wants(op)) return;
      it(`${op}: ${title}`, async (ctx) => {
        if (!backend) throw new Error('backend was not created');
        if (!backend.supports(op)) {
          ctx.skip(`${backend.name} does not implement ${op}`);
          return;
        }
        await fn();
      });
    };

    for (const spec of CONFORMANCE_SPECS) {
      const label = JSON.stringify(spec);
      opCase('decode', `decodes CPU-encoded ${label} like the CPU`, async () => {
        const rng = new SeededRandom(seed);
        for (const shape of shapes) {
          const q = createQuantizer(spec);
          const enc = q.encode(kvLike(rng, shape), shape);
          const ref = q.decode(enc);
          const got = await backend.decode(spec, enc);
          expect(relL2(got, ref), `${label} ${JSON.stringify(shape)}`).toBeLessThanOrEqual(
            CONFORMANCE_TOLERANCE.decode,
          );
        }
      });
      opCase('encode', `encodes ${label} into bytes the CPU decodes like its own`, async () => {
        const rng = new SeededRandom(seed + 1);
        for (const shape of shapes) {
          const q = createQuantizer(spec);
          const x = kvLike(rng, shape);
          const ref = q.decode(q.encode(x, shape));
          const enc = await backend.encode(spec, x, shape);
          expect(enc.bytes.length).toBe(q.encodedBytes(shape));
          const got = q.decode(enc);
          expect(relL2(got, ref), `${label} ${JSON.stringify(shape)}`).toBeLessThanOrEqual(
            CONFORMANCE_TOLERANCE.encode,
          );
        }
      });
    }

    opCase('linear', 'y = x·wᵀ + b, several shapes', async () => {
      const rng = new SeededRandom(seed + 2);
      for (const [rows, inDim, outDim] of [
        [1, 64, 96],
        [33, 128, 40],
        [32, 512, 128],
      ] as const) {
        const x = rng.normalArray(rows * inDim);
        const w = rng.normalArray(outDim * inDim);
        const b = rng.normalArray(outDim);
        expect(
          relL2(
            await backend.linear(x, rows, w, inDim, outDim, b),
            await cpu.linear(x, rows, w, inDim, outDim, b),
          ),
        ).toBeLessThanOrEqual(CONFORMANCE_TOLERANCE.dense);
        expect(
          relL2(await backend.linear(x, rows, w, inDim, outDim), await cpu.linear(x, rows, w, inDim, outDim)),
        ).toBeLessThanOrEqual(CONFORMANCE_TOLERANCE.dense);
      }
    });

    opCase('rmsNorm', 'RMSNorm rows', async () => {
      const rng = new SeededRandom(seed + 3);
      const x = rng.normalArray(17 * 512, 0.5, 2);
      const w = rng.normalArray(512);
      expect(
        relL2(await backend.rmsNorm(x, 17, 512, w, 1e-5), await cpu.rmsNorm(x, 17, 512, w, 1e-5)),
      ).toBeLessThanOrEqual(CONFORMANCE_TOLERANCE.dense);
    });

    opCase('rope', 'interleaved and neox, forward and inverse', async () => {
      const rng = new SeededRandom(seed + 4);
      for (const style of ['interleaved', 'neox'] as const) {
        const cfg: RopeConfig = { theta: 10000, dims: 64, style };
        const x = rng.normalArray(9 * 4 * 64);
        const pos = Int32Array.from({ length: 9 }, (_, i) => 100 + 37 * i);
        for (const inverse of [false, true]) {
          expect(
            relL2(
              await backend.rope(x, 9, 4, 64, pos, cfg, inverse),
              await cpu.rope(x, 9, 4, 64, pos, cfg, inverse),
            ),
          ).toBeLessThanOrEqual(CONFORMANCE_TOLERANCE.dense);
        }
      }
    });

    opCase('swiglu', 'silu(gate)·up', async () => {
      const rng = new SeededRandom(seed + 5);
      const g = rng.normalArray(3000, 0, 3);
      const u = rng.normalArray(3000);
      expect(relL2(await backend.swiglu(g, u), await cpu.swiglu(g, u))).toBeLessThanOrEqual(
        CONFORMANCE_TOLERANCE.dense,
      );
    });

    const attentionCases: {
      title: string;
      kvHeads: number;
      queryHeads: number;
      headDim: number;
      qTokens: number;
      specs: [QuantizerSpec, QuantizerSpec] | null;
      rope?: RopeConfig;
    }[] = [
      {
        title: 'GQA decode over fp16+uniform segments',
        kvHeads: 2,
        queryHeads: 8,
        headDim: 64,
        qTokens: 1,
        specs: [CONFORMANCE_SPECS[3]!, CONFORMANCE_SPECS[4]!],
      },
      {
        title: 'prefill chunk, RoPE on read, higgs segments',
        kvHeads: 2,
        queryHeads: 4,
        headDim: 64,
        qTokens: 5,
        specs: [CONFORMANCE_SPECS[9]!, CONFORMANCE_SPECS[8]!],
        rope: { theta: 10000, dims: 64, style: 'interleaved' },
      },
      {
        title: 'Llama-3 shapes, fp8 segments',
        kvHeads: 8,
        queryHeads: 32,
        headDim: 128,
        qTokens: 1,
        specs: [CONFORMANCE_SPECS[2]!, CONFORMANCE_SPECS[2]!],
      },
      { title: 'dense only', kvHeads: 4, queryHeads: 4, headDim: 64, qTokens: 3, specs: null },
    ];
    for (const tc of attentionCases) {
      opCase('attention', tc.title, async () => {
        const rng = new SeededRandom(seed + 6);
        const c = tc.kvHeads * tc.headDim;
        const segments: CacheSegment[] = [];
        segments.push({
          kind: 'dense',
          tokens: 4,
          keys: rng.normalArray(4 * c),
          values: rng.normalArray(4 * c),
        });
        if (tc.specs) {
          for (const tokens of [opts.quick ? 32 : 128, 31]) {
            const shape = { tokens, kvHeads: tc.kvHeads, headDim: tc.headDim };
            const [ks, vs] = tc.specs;
            segments.push({
              kind: 'encoded',
              tokens,
              keySpec: ks,
              valueSpec: vs,
              keys: createQuantizer(ks).encode(kvLike(rng, shape), shape),
              values: createQuantizer(vs).encode(rng.normalArray(tokens * c), shape),
            });
          }
        }
        segments.push({
          kind: 'dense',
          tokens: 9,
          keys: rng.normalArray(9 * c),
          values: rng.normalArray(9 * c),
        });
        const total = segments.reduce((s, x) => s + x.tokens, 0);
        const input = {
          query: rng.normalArray(tc.qTokens * tc.queryHeads * tc.headDim),
          qTokens: tc.qTokens,
          queryHeads: tc.queryHeads,
          kvHeads: tc.kvHeads,
          headDim: tc.headDim,
          qStart: total - tc.qTokens,
          segments,
          rope: tc.rope,
        };
        expect(relL2(await backend.attention(input), await cpu.attention(input))).toBeLessThanOrEqual(
          CONFORMANCE_TOLERANCE.attention,
        );
      });
    }
  });
}
