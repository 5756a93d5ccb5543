import {
  type BlockShape,
  CorruptFileError,
  InvalidArgumentError,
  type QuantizerSpec,
  SeededRandom,
  type UniformSpec,
  createQuantizer,
  float16Table,
  float32ToFloat16Bits,
} from '@kvq/core';
import { describe, expect, it } from 'vitest';
import { DeviceBuffer, createCudaBackend, gpuQuantizes, requireCuda } from '../src/index.js';
import { hasGpu, skipReason } from './gpu.js';

// HIGGS, codebook and outlier kernels against the CPU reference: the same bytes and the same
// decoded floats.
const specs: QuantizerSpec[] = [
  { kind: 'higgs', bits: 2, dim: 1, block: 64, seed: 7 },
  { kind: 'higgs', bits: 3, dim: 1, block: 128, seed: 11, scaleGain: 1.0714 },
  { kind: 'higgs', bits: 1.5, dim: 2, block: 64, seed: 3 },
  { kind: 'higgs', bits: 2.5, dim: 2, block: 128, seed: 0x6b, scaleGain: 1.0593 },
  { kind: 'higgs', bits: 2, dim: 2, block: 1024, seed: 5 },
  { kind: 'codebook', bits: 3, axis: 'channel', groupSize: 32, norm: 'rms' },
  { kind: 'codebook', bits: 2, axis: 'token', groupSize: 32, norm: 'absmax' },
  { kind: 'codebook', bits: 4, axis: 'token', groupSize: 64, norm: 'meanrms' },
  {
    kind: 'codebook',
    bits: 2,
    axis: 'channel',
    groupSize: 128,
    norm: 'meanrms',
    codebook: [-1.4, -0.3, 0.2, 1.1],
  },
  {
    kind: 'outliers',
    axis: 'token',
    count: 2,
    inner: { kind: 'uniform', bits: 2, axis: 'channel', groupSize: 32 },
  },
  {
    kind: 'outliers',
    axis: 'channel',
    count: 3,
    inner: { kind: 'higgs', bits: 2, dim: 2, block: 64, seed: 9 },
  },
  {
    kind: 'outliers',
    axis: 'token',
    count: 1,
    inner: { kind: 'codebook', bits: 3, axis: 'token', groupSize: 32, norm: 'meanrms' },
  },
];
const shapes: BlockShape[] = [
  { tokens: 1, kvHeads: 2, headDim: 64 },
  { tokens: 45, kvHeads: 2, headDim: 64 },
  { tokens: 130, kvHeads: 8, headDim: 128 },
];

describe('HIGGS, codebook and outlier quantizers run in CUDA kernels', () => {
  it("gpuQuantizes claims them, within the kernels' limits", () => {
    const shape = { tokens: 4, kvHeads: 2, headDim: 64 };
    for (const s of specs.slice(0, 4)) expect(gpuQuantizes(s, shape)).toBe(true);
    expect(
      gpuQuantizes(
        { kind: 'higgs', bits: 2, dim: 1, block: 8192, seed: 1 },
        { tokens: 1, kvHeads: 64, headDim: 128 },
      ),
    ).toBe(false);
    const fp16Inner = { kind: 'fp16' } as const;
    expect(gpuQuantizes({ kind: 'outliers', axis: 'token', count: 1, inner: fp16Inner }, shape)).toBe(true);
    expect(gpuQuantizes({ kind: 'outliers', axis: 'token', count: 65, inner: fp16Inner }, shape)).toBe(false);
  });
});

// uniform encode uses a reciprocal multiply with an exact fallback near rounding boundaries: its
// bytes must still be the CPU's
const uniformSpecs: QuantizerSpec[] = [
  { kind: 'uniform', bits: 2, axis: 'token', groupSize: 32 },
  { kind: 'uniform', bits: 4, axis: 'token', groupSize: 32 },
  { kind: 'uniform', bits: 3, axis: 'token', groupSize: 64 },
  { kind: 'uniform', bits: 2, axis: 'channel', groupSize: 32 },
  { kind: 'uniform', bits: 4, axis: 'channel', groupSize: 128 },
  { kind: 'uniform', bits: 8, axis: 'token', groupSize: 32 },
  { kind: 'uniform', bits: 3, axis: 'channel', groupSize: 64 },
  { kind: 'uniform', bits: 2, axis: 'token', groupSize: 128 },
  { kind: 'uniform', bits: 4, axis: 'channel', groupSize: 16 }, // not tiled: the per-thread kernel
];

describe.skipIf(!hasGpu)(
  `HIGGS, codebook, outlier and uniform kernels vs the CPU reference${skipReason}`,
  () => {
    for (const spec of [...specs, ...uniformSpecs]) {
      it(`${JSON.stringify(spec)}: encode gives the CPU's bytes, decode the CPU's floats`, async () => {
        const backend = await createCudaBackend();
        try {
          const q = createQuantizer(spec);
          const rng = new SeededRandom(77);
          for (const shape of shapes) {
            if (!gpuQuantizes(spec, shape)) continue;
            const x = rng.normalArray(shape.tokens * shape.kvHeads * shape.headDim);
            for (let i = 0; i < x.length; i += 29) x[i]! *= 8;
            const ref = q.encode(x, shape);
            const got = await backend.encode(spec, x, shape);
            let diff = 0;
            for (let i = 0; i < ref.bytes.length; i++) if (ref.bytes[i] !== got.bytes[i]) diff++;
            expect(diff, `${JSON.stringify(shape)}: bytes that differ`).toBe(0);
            const dec = await backend.decode(spec, ref);
            expect(Array.from(dec), JSON.stringify(shape)).toEqual(Array.from(q.decode(ref)));
          }
        } finally {
          backend.dispose();
        }
      });
    }
    it('a scale outside the fp16 range is an InvalidArgumentError, like the CPU', async () => {
      const backend = await createCudaBackend();
      try {
        const shape = { tokens: 2, kvHeads: 1, headDim: 64 };
        const x = new Float32Array(128).fill(1e5);
        for (const spec of specs.slice(0, 1).concat(specs.slice(5, 6))) {
          expect(() => createQuantizer(spec).encode(x, shape)).toThrow(InvalidArgumentError);
          await expect(backend.encode(spec, x, shape)).rejects.toThrow(InvalidArgumentError);
        }
      } finally {
        backend.dispose();
      }
    });
    it('a block with a non-finite or negative scale is a CorruptFileError', async () => {
      const backend = await createCudaBackend();
      try {
        const shape = { tokens: 3, kvHeads: 1, headDim: 64 };
        for (const spec of [specs[0]!, specs[5]!]) {
          const enc = createQuantizer(spec).encode(new SeededRandom(1).normalArray(192), shape);
          const bad = { shape, bytes: enc.bytes.slice() };
          bad.bytes[1] = 0x7c; // first scale → inf
          await expect(backend.decode(spec, bad)).rejects.toThrow(CorruptFileError);
          bad.bytes[1] = 0xbc; // first scale → negative
          await expect(backend.decode(spec, bad)).rejects.toThrow(CorruptFileError);
        }
        const spec = specs[9]!; // outliers per token, 2 each
        const enc = createQuantizer(spec).encode(new SeededRandom(2).normalArray(192), shape);
        const bad = { shape, bytes: enc.bytes.slice() };
        const N = 2 * shape.tokens;
        bad.bytes[2 * N] = 200; // first index ≥ 64 channels
        await expect(backend.decode(spec, bad)).rejects.toThrow(CorruptFileError);
      } finally {
        backend.dispose();
      }
    });
  },
);

// The tiled uniform encode (group sizes 32/64/128) against the CPU on data made to hit its edges:
// channel and token tails (70 tokens, 192 channels: 24 octets, less than a block's width), constant
// groups, zero extremes of both signs (the CPU keeps the first zero it meets), exact rounding ties
// (the exact-division fallback), q = 0.5 − 2⁻²⁵ (Math.round gives 0, fp32 floor(q + 0.5) 1) and
// groups far from zero relative to their range (|min / scale| > 256: no fast codes, the exact path);
// fp32 input through the backend, fp16 input through the addon (the bench's path).
const tiledSpecs: UniformSpec[] = [];
for (const bits of [2, 4, 3])
  for (const axis of ['channel', 'token'] as const)
    for (const groupSize of [32, 64, 128]) tiledSpecs.push({ kind: 'uniform', bits, axis, groupSize });

function edgeData(spec: UniformSpec, T: number, C: number): Float32Array {
  const x = new SeededRandom(31 + spec.bits).normalArray(T * C);
  const levels = (1 << spec.bits) - 1;
  const at = (t: number, c: number, v: number) => {
    if (t < T && c < C) x[t * C + c] = v;
  };
  for (let t = 0; t < T; t++) {
    at(t, 5, 1.25); // constant channel
    at(t, 7, Math.abs(x[t * C + 7]!) + 0.01); // min 0: -0 first, then +0
    at(t, 9, Math.abs(x[t * C + 9]!) + 0.01); // min 0: +0 first, then -0
    at(t, 11, -Math.abs(x[t * C + 11]!) - 0.01); // max 0: -0 first
    // lo 0, hi = levels: s = 1 exactly; ties k + 0.5 and 0.5 − 2⁻²⁵
    const k = t % 8;
    at(t, 13, k === 0 ? 0 : k === 1 ? levels : k === 2 ? 0.49999997 : k === 3 ? 1.5 : (t % levels) + 0.5);
    at(t, 15, 40 + 0.05 * x[t * C + 15]!); // |min / scale| > 256: the exact path for the whole group
  }
  for (let t = 0; t < T; t += 16) {
    at(t + 1, 7, -0);
    at(t + 3, 7, 0);
    at(t + 1, 9, 0);
    at(t + 2, 9, -0);
    at(t + 2, 11, -0);
    at(t + 5, 11, 0);
  }
  for (let c = 0; c < C; c++) {
    at(3, c, c % 3 === 0 ? -0 : 0); // row of zeros, -0 first
    at(4, c, 2.5); // constant row
    at(6, c, Math.abs(x[6 * C + c]!) + 0.01); // row with min 0: +0 first
    const k = c % 8;
    at(8, c, k === 0 ? 0 : k === 1 ? levels : k === 2 ? 0.49999997 : k === 3 ? 1.5 : (c % levels) + 0.5);
    at(10, c, -40 + 0.05 * x[10 * C + c]!); // |min / scale| > 256 (token groups)
  }
  for (let c = 0; c < C; c += 16) {
    at(6, c + 2, 0);
    at(6, c + 4, -0);
  }
  return x;
}

describe.skipIf(!hasGpu)(`tiled uniform encode vs the CPU reference${skipReason}`, () => {
  const shapes: BlockShape[] = [
    { tokens: 70, kvHeads: 3, headDim: 64 },
    { tokens: 1, kvHeads: 2, headDim: 64 },
    { tokens: 257, kvHeads: 4, headDim: 128 },
  ];
  for (const spec of tiledSpecs) {
    it(`${JSON.stringify(spec)}: fp32 and fp16 input give the CPU's bytes`, async () => {
      const backend = await createCudaBackend();
      const { addon } = requireCuda();
      const t16 = float16Table();
      try {
        const q = createQuantizer(spec);
        for (const shape of shapes) {
          const C = shape.kvHeads * shape.headDim;
          if (spec.axis === 'token' && C % spec.groupSize !== 0) continue;
          const x = edgeData(spec, shape.tokens, C);
          const ref = q.encode(x, shape);
          const got = await backend.encode(spec, x, shape);
          let diff = 0;
          for (let i = 0; i < ref.bytes.length; i++) if (ref.bytes[i] !== got.bytes[i]) diff++;
          expect(diff, `fp32 ${JSON.stringify(shape)}: bytes that differ`).toBe(0);
          // fp16 input: the CPU encodes the fp16 values as fp32
          const h = float32ToFloat16Bits(x);
          const xh = Float32Array.from(h, (b) => t16[b]!);
          const refH = q.encode(xh, shape);
          using xb = DeviceBuffer.from(h);
          using ob = new DeviceBuffer(refH.bytes.length);
          const axisToken = spec.axis === 'token' ? 1 : 0;
          addon.uniformEncode(xb.ptr, ob.ptr, shape.tokens, C, spec.bits, axisToken, spec.groupSize, 1);
          const gotH = ob.read(new Uint8Array(refH.bytes.length));
          diff = 0;
          for (let i = 0; i < refH.bytes.length; i++) if (refH.bytes[i] !== gotH[i]) diff++;
          expect(diff, `fp16 ${JSON.stringify(shape)}: bytes that differ`).toBe(0);
        }
      } finally {
        backend.dispose();
      }
    });
  }
});
