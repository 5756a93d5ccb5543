/**
 * Browser page of the smoke test: runs the core conformance cases (encode/decode of every
 * quantizer kind vs the CPU reference, dense ops, segment attention) on navigator.gpu and
 * reports `window.__kvqResult = { status: 'pass' | 'fail' | 'skip', ... }`.
 */
import { type Backend, SeededRandom, createQuantizer, selectBackend } from '@kvq/core';
import { CONFORMANCE_SPECS as SPECS, CONFORMANCE_TOLERANCE as TOL, relL2 } from '@kvq/core/testing/cases';
import { createWebGpuBackend } from '../../src/index.js';

interface Case {
  name: string;
  err: number;
  tol: number;
  ok: boolean;
}

async function run(): Promise<unknown> {
  const nav = navigator as Navigator & { gpu?: GPU };
  if (!nav.gpu) return { status: 'skip', reason: 'navigator.gpu is undefined in this browser' };
  const adapter = await nav.gpu.requestAdapter();
  if (!adapter)
    return { status: 'skip', reason: 'navigator.gpu.requestAdapter() returned null (no WebGPU adapter)' };
  const gpu: Backend = await createWebGpuBackend();
  const cpu = await selectBackend('cpu');
  const cases: Case[] = [];
  const add = (name: string, err: number, tol: number) => cases.push({ name, err, tol, ok: err <= tol });
  const rng = new SeededRandom(1234);
  const shape = { tokens: 64, kvHeads: 2, headDim: 64 };
  for (const spec of SPECS) {
    const q = createQuantizer(spec);
    const x = rng.normalArray(64 * 128);
    const enc = q.encode(x, shape);
    add(`decode ${JSON.stringify(spec)}`, relL2(await gpu.decode(spec, enc), q.decode(enc)), TOL.decode);
    add(
      `encode ${JSON.stringify(spec)}`,
      relL2(q.decode(await gpu.encode(spec, x, shape)), q.decode(enc)),
      TOL.encode,
    );
  }
  const x = rng.normalArray(33 * 128);
  const w = rng.normalArray(40 * 128);
  const b = rng.normalArray(40);
  add(
    'linear',
    relL2(await gpu.linear(x, 33, w, 128, 40, b), await cpu.linear(x, 33, w, 128, 40, b)),
    TOL.dense,
  );
  const wn = rng.normalArray(128);
  add(
    'rmsNorm',
    relL2(await gpu.rmsNorm(x, 33, 128, wn, 1e-5), await cpu.rmsNorm(x, 33, 128, wn, 1e-5)),
    TOL.dense,
  );
  add('swiglu', relL2(await gpu.swiglu(x, x), await cpu.swiglu(x, x)), TOL.dense);
  const pos = Int32Array.from({ length: 33 }, (_, i) => 3 * i);
  const rc = { theta: 10000, dims: 64, style: 'neox' } as const;
  add('rope', relL2(await gpu.rope(x, 33, 2, 64, pos, rc), await cpu.rope(x, 33, 2, 64, pos, rc)), TOL.dense);
  const [ks, vs] = [SPECS[3]!, SPECS[4]!];
  const seg = {
    kind: 'encoded' as const,
    tokens: 64,
    keySpec: ks,
    valueSpec: vs,
    keys: createQuantizer(ks).encode(rng.normalArray(64 * 128), shape),
    values: createQuantizer(vs).encode(rng.normalArray(64 * 128), shape),
  };
  const input = {
    query: rng.normalArray(2 * 8 * 64),
    qTokens: 2,
    queryHeads: 8,
    kvHeads: 2,
    headDim: 64,
    qStart: 62 + 5,
    segments: [
      seg,
      { kind: 'dense' as const, tokens: 5, keys: rng.normalArray(5 * 128), values: rng.normalArray(5 * 128) },
    ],
    rope: { theta: 10000, dims: 64, style: 'interleaved' as const },
  };
  add(
    'attention (GQA, encoded + dense segments, RoPE)',
    relL2(await gpu.attention(input), await cpu.attention(input)),
    TOL.attention,
  );
  gpu.dispose();
  const info = adapter.info;
  return {
    status: cases.every((c) => c.ok) ? 'pass' : 'fail',
    adapter: `${info?.vendor ?? ''} ${info?.architecture ?? ''} ${info?.description ?? ''}`.trim(),
    cases,
  };
}

(window as unknown as { __kvqResult?: unknown }).__kvqResult = undefined;
run().then(
  (r) => {
    (window as unknown as { __kvqResult?: unknown }).__kvqResult = r;
  },
  (err) => {
    (window as unknown as { __kvqResult?: unknown }).__kvqResult = {
      status: 'fail',
      error: String(err?.stack ?? err),
    };
  },
);
