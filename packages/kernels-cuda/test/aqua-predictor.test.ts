import {
  AdapterMismatchError,
  type AquaAdapters,
  DisposedError,
  InvalidArgumentError,
  type KVLayout,
  SeededRandom,
  aquaPredictor,
  createCache,
  deserializeCache,
  linearCpu,
} from '@kvq/core';
import { randomAdapters, relL2 } from '@kvq/core/testing';
import { describe, expect, it } from 'vitest';
import { CudaAquaPredictor, DeviceBuffer, createCudaAquaPredictor, deviceMemory } from '../src/index.js';
import { hasGpu, skipReason } from './gpu.js';

const layout: KVLayout = { layers: 3, queryHeads: 4, kvHeads: 2, headDim: 64 };
const C = layout.kvHeads * layout.headDim;
const T = 37;

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('did not throw');
}

describe.skipIf(!hasGpu)(`CudaAquaPredictor${skipReason}`, () => {
  it('predictKeys / predictValues match the CPU aquaPredictor (relL2 < 1e-5), null for layer 0 and null inputs', () => {
    const rng = new SeededRandom(101);
    const adapters = randomAdapters(rng, layout);
    const cpu = aquaPredictor(adapters, layout);
    using gpu = createCudaAquaPredictor(adapters, layout);
    expect(gpu.kind).toBe('aqua');
    expect(gpu.channels).toBe(C);
    const prevK = rng.normalArray(T * C);
    const keys = rng.normalArray(T * C);
    const prevV = rng.normalArray(T * C);
    expect(gpu.predictKeys(0, prevK, T)).toBe(null);
    expect(gpu.predictValues(0, keys, prevV, T)).toBe(null);
    expect(gpu.predictKeys(1, null, T)).toBe(null);
    expect(gpu.predictValues(1, keys, null, T)).toBe(null);
    for (let l = 1; l < layout.layers; l++) {
      const kg = gpu.predictKeys(l, prevK, T)!;
      const kc = cpu.predictKeys(l, prevK, T)!;
      expect(kg.length).toBe(T * C);
      expect(relL2(kg, kc)).toBeLessThan(1e-5);
      const vg = gpu.predictValues(l, keys, prevV, T)!;
      const vc = cpu.predictValues(l, keys, prevV, T)!;
      expect(vg.length).toBe(T * C);
      expect(relL2(vg, vc)).toBeLessThan(1e-5);
    }
    // a smaller call after a larger one reuses the scratch buffer
    const k5 = gpu.predictKeys(2, prevK.subarray(0, 5 * C), 5)!;
    expect(relL2(k5, cpu.predictKeys(2, prevK.subarray(0, 5 * C), 5)!)).toBeLessThan(1e-5);
    expect(gpu.predictKeys(1, new Float32Array(0), 0)!.length).toBe(0);
  });

  it('the device-buffer variants give the same, and leave out alone for layer 0', () => {
    const rng = new SeededRandom(102);
    const adapters = randomAdapters(rng, layout);
    const cpu = aquaPredictor(adapters, layout);
    using gpu = new CudaAquaPredictor(adapters, layout);
    const prevK = rng.normalArray(T * C);
    const keys = rng.normalArray(T * C);
    const prevV = rng.normalArray(T * C);
    using dPrevK = DeviceBuffer.from(prevK);
    using dKeys = DeviceBuffer.from(keys);
    using dPrevV = DeviceBuffer.from(prevV);
    // out larger than needed: only the prefix is written
    using out = DeviceBuffer.from(new Float32Array(T * C + 16).fill(7));
    expect(gpu.predictKeysDevice(0, dPrevK, T, out)).toBe(false);
    expect(gpu.predictValuesDevice(0, dKeys, dPrevV, T, out)).toBe(false);
    expect(out.read(new Float32Array(T * C + 16)).every((x) => x === 7)).toBe(true);
    for (let l = 1; l < layout.layers; l++) {
      expect(gpu.predictKeysDevice(l, dPrevK, T, out)).toBe(true);
      const kg = out.read(new Float32Array(T * C + 16));
      expect(relL2(kg.subarray(0, T * C), cpu.predictKeys(l, prevK, T)!)).toBeLessThan(1e-5);
      expect(kg.subarray(T * C).every((x) => x === 7)).toBe(true);
      expect(gpu.predictValuesDevice(l, dKeys, dPrevV, T, out)).toBe(true);
      const vg = out.read(new Float32Array(T * C));
      expect(relL2(vg, cpu.predictValues(l, keys, prevV, T)!)).toBeLessThan(1e-5);
      // host and device paths agree exactly (same kernel, same inputs)
      expect(vg).toEqual(gpu.predictValues(l, keys, prevV, T)!);
    }
  });

  it('wrong sizes and bad arguments throw InvalidArgumentError; other adapters AdapterMismatchError', () => {
    const rng = new SeededRandom(103);
    const adapters = randomAdapters(rng, layout);
    using gpu = createCudaAquaPredictor(adapters, layout);
    const x = rng.normalArray(T * C);
    expect(() => gpu.predictKeys(1, x.subarray(1), T)).toThrow(InvalidArgumentError);
    expect(() => gpu.predictValues(1, x, x.subarray(0, C), T)).toThrow(InvalidArgumentError);
    expect(() => gpu.predictValues(1, x.subarray(C), x, T)).toThrow(InvalidArgumentError);
    expect(() => gpu.predictKeys(3, x, T)).toThrow(InvalidArgumentError);
    expect(() => gpu.predictKeys(1, x, 1.5)).toThrow(InvalidArgumentError);
    using ok = new DeviceBuffer(T * C * 4);
    using ok2 = new DeviceBuffer(T * C * 4);
    using small = new DeviceBuffer(T * C * 4 - 4);
    const e = thrown(() => gpu.predictKeysDevice(1, small, T, ok));
    expect(e).toBeInstanceOf(InvalidArgumentError);
    expect(e.message).toMatch(new RegExp(`holds ${T * C * 4 - 4} bytes, expected at least ${T * C * 4}`));
    expect(() => gpu.predictKeysDevice(1, ok, T, small)).toThrow(InvalidArgumentError);
    expect(() => gpu.predictKeysDevice(1, ok, T, ok)).toThrow(InvalidArgumentError);
    expect(() => gpu.predictValuesDevice(1, small, ok, T, ok2)).toThrow(InvalidArgumentError);
    expect(() => gpu.predictValuesDevice(1, ok, small, T, ok2)).toThrow(InvalidArgumentError);
    expect(() => gpu.predictValuesDevice(1, ok, ok2, T, small)).toThrow(InvalidArgumentError);
    // layer 0 checks sizes too
    expect(() => gpu.predictValuesDevice(0, ok, ok2, T, small)).toThrow(InvalidArgumentError);
    expect(() => new CudaAquaPredictor(randomAdapters(rng, { ...layout, headDim: 32 }), layout)).toThrow(
      AdapterMismatchError,
    );
  });

  it('dispose frees the device memory; use after dispose throws DisposedError', () => {
    // C = 1024: 12 MiB of weights per layer, 36 MiB per predictor
    const big: KVLayout = { layers: 4, queryHeads: 8, kvHeads: 8, headDim: 128 };
    const adapters = randomAdapters(new SeededRandom(104), big);
    const bigC = big.kvHeads * big.headDim;
    const x = new SeededRandom(105).normalArray(64 * bigC);
    createCudaAquaPredictor(adapters, big).dispose(); // warm-up
    const before = deviceMemory().free;
    for (let i = 0; i < 8; i++) {
      using p = createCudaAquaPredictor(adapters, big);
      p.predictKeys(1, x, 64);
      p.predictValues(2, x, x, 64);
      expect(p.deviceBytes).toBeGreaterThanOrEqual(3 * 3 * bigC * bigC * 4);
      if (i === 0) expect(before - deviceMemory().free).toBeGreaterThanOrEqual(30 * 1024 * 1024);
    }
    const after = deviceMemory().free;
    expect(Math.abs(before - after)).toBeLessThanOrEqual(2 * 1024 * 1024);

    const p = createCudaAquaPredictor(randomAdapters(new SeededRandom(106), layout), layout);
    const y = new Float32Array(T * C);
    using d = DeviceBuffer.from(y);
    using d2 = DeviceBuffer.from(y);
    p.dispose();
    p.dispose();
    expect(p.disposed).toBe(true);
    expect(() => p.predictKeys(1, y, T)).toThrow(DisposedError);
    expect(() => p.predictKeys(0, y, T)).toThrow(DisposedError);
    expect(() => p.predictValues(1, y, y, T)).toThrow(DisposedError);
    expect(() => p.predictKeysDevice(1, d, T, d2)).toThrow(DisposedError);
    expect(() => p.predictValuesDevice(1, d, d, T, d2)).toThrow(DisposedError);
    expect(() => p.deviceBytes).toThrow(DisposedError);
  });

  it("a CompressedKVCache ('aqua-2.5') with the CUDA predictor matches one with the CPU predictor", () => {
    const rng = new SeededRandom(107);
    const adapters = randomAdapters(rng, layout);
    using gpu = createCudaAquaPredictor(adapters, layout);
    const policy = { sinkTokens: 4, bufferTokens: 32 };
    const cpuCache = createCache({ layout, preset: 'aqua-2.5', adapters, policy });
    const gpuCache = createCache({ layout, preset: 'aqua-2.5', adapters, policy, predictor: gpu });
    // tokens where the adapters explain most of each layer (plus noise), appended in chunks
    const tokens = 100;
    const truth = Array.from({ length: layout.layers }, () => ({
      k: new Float32Array(tokens * C),
      v: new Float32Array(tokens * C),
    }));
    for (let t0 = 0; t0 < tokens; t0 += 25) {
      const n = Math.min(25, tokens - t0);
      let prevK: Float32Array | null = null;
      let prevV: Float32Array | null = null;
      for (let l = 0; l < layout.layers; l++) {
        const a = adapters.layers[l];
        const k = rng.normalArray(n * C);
        const v = rng.normalArray(n * C);
        if (a && prevK && prevV) {
          const kp = linearCpu(prevK, n, a.keyWeight, C, C, a.keyBias);
          for (let i = 0; i < k.length; i++) k[i] = kp[i]! + 0.3 * k[i]!;
          const x = new Float32Array(n * 2 * C);
          for (let t = 0; t < n; t++) {
            x.set(k.subarray(t * C, (t + 1) * C), t * 2 * C);
            x.set(prevV.subarray(t * C, (t + 1) * C), t * 2 * C + C);
          }
          const vp = linearCpu(x, n, a.valueWeight, 2 * C, C, a.valueBias);
          for (let i = 0; i < v.length; i++) v[i] = vp[i]! + 0.3 * v[i]!;
        }
        truth[l]!.k.set(k, t0 * C);
        truth[l]!.v.set(v, t0 * C);
        cpuCache.append(l, k, v, n);
        gpuCache.append(l, k, v, n);
        prevK = k;
        prevV = v;
      }
    }
    expect(gpuCache.layerStates[2]!.blocks.length).toBeGreaterThan(0);
    for (let l = 0; l < layout.layers; l++) {
      const g = gpuCache.reconstruct(l);
      const c = cpuCache.reconstruct(l);
      const eg = [relL2(g.keys, truth[l]!.k), relL2(g.values, truth[l]!.v)];
      const ec = [relL2(c.keys, truth[l]!.k), relL2(c.values, truth[l]!.v)];
      for (let i = 0; i < 2; i++) {
        expect(eg[i]!).toBeLessThan(0.5);
        expect(eg[i]!).toBeLessThanOrEqual(1.05 * ec[i]!);
        expect(ec[i]!).toBeLessThanOrEqual(1.05 * eg[i]!);
      }
    }
    // its snapshot restores through the CPU predictor to (nearly) the same reconstruction
    const back = deserializeCache(gpuCache.serialize(), { adapters });
    for (let l = 0; l < layout.layers; l++) {
      expect(relL2(back.reconstruct(l).keys, gpuCache.reconstruct(l).keys)).toBeLessThan(1e-5);
      expect(relL2(back.reconstruct(l).values, gpuCache.reconstruct(l).values)).toBeLessThan(1e-5);
    }
  });
});
