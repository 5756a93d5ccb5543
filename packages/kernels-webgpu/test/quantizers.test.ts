import {
  CorruptFileError,
  InvalidArgumentError,
  NonFiniteError,
  type QuantizerSpec,
  SeededRandom,
  createQuantizer,
  float16Table,
} from '@kvq/core';
import { describe, expect, it } from 'vitest';
import { probe, sharedBackend, title } from './gpu.js';

const p = await probe();

const SPECS: QuantizerSpec[] = [
  { kind: 'fp16' },
  { kind: 'bf16' },
  { kind: 'fp8', format: 'e4m3' },
  ...[1, 2, 3, 4, 5, 8].flatMap((bits): QuantizerSpec[] => [
    { kind: 'uniform', bits, axis: 'channel', groupSize: 4 },
    { kind: 'uniform', bits, axis: 'token', groupSize: 8 },
  ]),
  { kind: 'uniform', bits: 2, axis: 'channel', groupSize: 32 },
  { kind: 'uniform', bits: 4, axis: 'token', groupSize: 16 },
  { kind: 'codebook', bits: 3, axis: 'channel', groupSize: 4, norm: 'rms' },
  { kind: 'codebook', bits: 2, axis: 'token', groupSize: 8, norm: 'absmax' },
  { kind: 'codebook', bits: 3, axis: 'channel', groupSize: 3, norm: 'meanrms' },
  {
    kind: 'codebook',
    bits: 4,
    axis: 'token',
    groupSize: 8,
    norm: 'rms',
    codebook: [-2, -1.5, -1, -0.7, -0.5, -0.3, -0.1, 0, 0.1, 0.2, 0.4, 0.6, 0.9, 1.2, 1.6, 2.5],
  },
  { kind: 'higgs', bits: 3, dim: 1, block: 8, seed: 11 },
  { kind: 'higgs', bits: 2.5, dim: 2, block: 16, seed: 5 },
  {
    kind: 'outliers',
    axis: 'token',
    count: 3,
    inner: { kind: 'uniform', bits: 2, axis: 'token', groupSize: 8 },
  },
  {
    kind: 'outliers',
    axis: 'channel',
    count: 2,
    inner: { kind: 'higgs', bits: 2, dim: 1, block: 8, seed: 1 },
  },
];
const SHAPES = [
  { tokens: 1, kvHeads: 1, headDim: 8 },
  { tokens: 7, kvHeads: 2, headDim: 8 },
  { tokens: 33, kvHeads: 2, headDim: 16 },
];

function name(s: QuantizerSpec): string {
  return s.kind === 'uniform' ? `uniform b${s.bits} ${s.axis} g${s.groupSize}` : JSON.stringify(s);
}

const SHAPE_OF = new WeakMap<Uint8Array, { tokens: number; kvHeads: number; headDim: number }>();

/** Compares encoded bytes: fp16/bf16/fp8 exactly; uniform headers within one fp16 ulp, codes within 1 (division rounding). */
function compareEncoded(
  spec: QuantizerSpec,
  gpu: Uint8Array,
  cpu: Uint8Array,
  n: number,
  nGroups: number,
): void {
  expect(gpu.length).toBe(cpu.length);
  if (spec.kind === 'codebook' || spec.kind === 'higgs' || spec.kind === 'outliers') {
    // fp32 division / reduction order may pick the neighbouring level on near-ties: compare what the CPU decodes
    const q = createQuantizer(spec);
    const a = q.decode({ shape: SHAPE_OF.get(gpu)!, bytes: gpu });
    const b = q.decode({ shape: SHAPE_OF.get(gpu)!, bytes: cpu });
    let num = 0;
    let den = 0;
    for (let i = 0; i < a.length; i++) {
      num += (a[i]! - b[i]!) ** 2;
      den += b[i]! ** 2;
    }
    expect(Math.sqrt(num / den)).toBeLessThan(1e-2);
    return;
  }
  if (spec.kind !== 'uniform') {
    expect(Buffer.from(gpu).equals(Buffer.from(cpu))).toBe(true);
    return;
  }
  const hdr = nGroups * 4;
  for (let i = 0; i < hdr; i += 2) {
    const a = gpu[i]! | (gpu[i + 1]! << 8);
    const b = cpu[i]! | (cpu[i + 1]! << 8);
    expect(Math.abs(a - b)).toBeLessThanOrEqual(1);
  }
  let diff = 0;
  const mask = (1 << spec.bits) - 1;
  const code = (bytes: Uint8Array, e: number) => {
    let v = 0;
    for (let k = 0; k < spec.bits; k++) {
      const bit = e * spec.bits + k;
      v |= ((bytes[hdr + (bit >> 3)]! >> (bit & 7)) & 1) << k;
    }
    return v & mask;
  };
  for (let e = 0; e < n; e++) {
    const d = Math.abs(code(gpu, e) - code(cpu, e));
    expect(d).toBeLessThanOrEqual(1);
    diff += d;
  }
  // ties resolved differently by fp32 division: rare
  expect(diff).toBeLessThanOrEqual(Math.max(1, n * 0.01));
}

describe.skipIf(!p.ok)(title('encode/decode vs the CPU reference', p), () => {
  for (const spec of SPECS) {
    for (const shape of SHAPES) {
      const C = shape.kvHeads * shape.headDim;
      if (
        (spec.kind === 'uniform' || spec.kind === 'codebook') &&
        spec.axis === 'token' &&
        C % spec.groupSize !== 0
      )
        continue;
      if (spec.kind === 'higgs' && C % spec.block !== 0) continue;
      it(`${name(spec)} [${shape.tokens}, ${shape.kvHeads}, ${shape.headDim}]`, async () => {
        const b = await sharedBackend();
        const rng = new SeededRandom(shape.tokens * 131 + C);
        const n = shape.tokens * C;
        const data = rng.normalArray(n, 0.3, 2);
        if (spec.kind === 'fp8') data[0] = 1000; // saturates
        const cpuQ = createQuantizer(spec);
        const cpuBlock = cpuQ.encode(data, shape);
        const gpuBlock = await b.encode(spec, data, shape);
        SHAPE_OF.set(gpuBlock.bytes, shape);
        const nGroups =
          spec.kind === 'uniform'
            ? spec.axis === 'channel'
              ? Math.ceil(shape.tokens / spec.groupSize) * C
              : shape.tokens * (C / spec.groupSize)
            : 0;
        compareEncoded(spec, gpuBlock.bytes, cpuBlock.bytes, n, nGroups);
        // decode of the CPU's bytes must equal the CPU decode (fp32 rounding of min + code·scale aside)
        const gpuDec = await b.decode(spec, cpuBlock);
        const cpuDec = cpuQ.decode(cpuBlock);
        // (an FMA on the GPU, two roundings on the CPU: one ulp of the block's largest value)
        let peak = 0;
        for (let i = 0; i < n; i++) peak = Math.max(peak, Math.abs(cpuDec[i]!));
        for (let i = 0; i < n; i++)
          expect(Math.abs(gpuDec[i]! - cpuDec[i]!)).toBeLessThanOrEqual(peak * 2.4e-7);
      });
    }
  }

  it('rejects NaN input like the CPU (NonFiniteError)', async () => {
    const b = await sharedBackend();
    const data = new Float32Array(16);
    data[3] = Number.NaN;
    await expect(
      b.encode({ kind: 'fp8', format: 'e4m3' }, data, { tokens: 2, kvHeads: 1, headDim: 8 }),
    ).rejects.toBeInstanceOf(NonFiniteError);
  });

  it('rejects values outside the fp16 range (InvalidArgumentError), as the CPU does', async () => {
    const b = await sharedBackend();
    const data = new Float32Array(16);
    data[5] = 1e6;
    const shape = { tokens: 2, kvHeads: 1, headDim: 8 };
    await expect(b.encode({ kind: 'fp16' }, data, shape)).rejects.toBeInstanceOf(InvalidArgumentError);
    data[5] = -1e5;
    data[6] = 1e5; // range/1 overflows the fp16 scale
    expect(() =>
      createQuantizer({ kind: 'uniform', bits: 1, axis: 'token', groupSize: 8 }).encode(data, shape),
    ).toThrow(InvalidArgumentError);
    await expect(
      b.encode({ kind: 'uniform', bits: 1, axis: 'token', groupSize: 8 }, data, shape),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('reports corrupt blocks (CorruptFileError)', async () => {
    const b = await sharedBackend();
    const shape = { tokens: 2, kvHeads: 1, headDim: 8 };
    const spec: QuantizerSpec = { kind: 'uniform', bits: 2, axis: 'token', groupSize: 8 };
    const blk = createQuantizer(spec).encode(new SeededRandom(1).normalArray(16), shape);
    const bad = blk.bytes.slice();
    bad[0] = 0x00;
    bad[1] = 0x7c; // scale = +Inf
    await expect(b.decode(spec, { shape, bytes: bad })).rejects.toBeInstanceOf(CorruptFileError);
    await expect(b.decode(spec, { shape, bytes: blk.bytes.subarray(1) })).rejects.toBeInstanceOf(
      CorruptFileError,
    );
    const fp8 = new Uint8Array(16).fill(0x7f);
    await expect(b.decode({ kind: 'fp8', format: 'e4m3' }, { shape, bytes: fp8 })).rejects.toBeInstanceOf(
      CorruptFileError,
    );
  });

  it('fp16 decode is exact for every fp16 pattern', async () => {
    const b = await sharedBackend();
    const bytes = new Uint8Array(65536 * 2);
    const u16 = new Uint16Array(bytes.buffer);
    const t = float16Table();
    const ok: number[] = [];
    for (let h = 0; h < 65536; h++) if ((h & 0x7c00) !== 0x7c00) ok.push(h);
    ok.forEach((h, i) => {
      u16[i] = h;
    });
    const n = ok.length - (ok.length % 8);
    const dec = await b.decode(
      { kind: 'fp16' },
      { shape: { tokens: n / 8, kvHeads: 1, headDim: 8 }, bytes: bytes.subarray(0, n * 2) },
    );
    for (let i = 0; i < n; i++) expect(Object.is(dec[i], t[ok[i]!]) || dec[i] === t[ok[i]!]).toBe(true);
  });
});
