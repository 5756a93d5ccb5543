import {
  type BlockShape,
  CorruptFileError,
  InvalidArgumentError,
  type QuantizerSpec,
  SeededRandom,
  createQuantizer,
} from '@kvq/core';
import { describe, expect, it } from 'vitest';
import { createCudaBackend, gpuQuantizes } from '../src/index.js';
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
