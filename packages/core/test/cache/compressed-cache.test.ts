import { describe, expect, it } from 'vitest';
import {
  AdapterMismatchError,
  CorruptFileError,
  InvalidArgumentError,
  MissingAdaptersError,
  NonFiniteError,
  SeededRandom,
  ShapeError,
  createCache,
  deserializeCache,
  getPreset,
  listPresets,
  presetBitsPerValue,
  strictPolicy,
} from '../../src/index.js';
import { randomAdapters } from '../../src/testing/random-adapters.js';

const layout = { layers: 3, queryHeads: 4, kvHeads: 2, headDim: 64 };
const C = layout.kvHeads * layout.headDim;

function fill(cache: ReturnType<typeof createCache>, tokens: number, rng: SeededRandom, chunk = 32) {
  const all: { k: Float32Array; v: Float32Array }[] = Array.from({ length: layout.layers }, () => ({
    k: new Float32Array(tokens * C),
    v: new Float32Array(tokens * C),
  }));
  for (let t0 = 0; t0 < tokens; t0 += chunk) {
    const n = Math.min(chunk, tokens - t0);
    for (let l = 0; l < layout.layers; l++) {
      const k = rng.normalArray(n * C);
      const v = rng.normalArray(n * C);
      all[l]!.k.set(k, t0 * C);
      all[l]!.v.set(v, t0 * C);
      cache.append(l, k, v, n);
    }
  }
  return all;
}

function relErr(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += a[i]! ** 2;
  }
  return Math.sqrt(num / den);
}

describe('CompressedKVCache', () => {
  it('fp16 preset reconstructs fp16-rounded input exactly; sinks/buffer/blocks in order', () => {
    const cache = createCache({ layout, preset: 'fp16' });
    const rng = new SeededRandom(1);
    const all = fill(cache, 300, rng);
    expect(cache.length).toBe(300);
    for (let l = 0; l < layout.layers; l++) {
      const { keys, values } = cache.reconstruct(l);
      expect(relErr(all[l]!.k, keys)).toBeLessThan(1e-3);
      expect(relErr(all[l]!.v, values)).toBeLessThan(1e-3);
    }
    const st = cache.layerStates[0]!;
    expect(st.sink).toBe(4);
    expect(st.blocks.length).toBe(2); // 296 tokens after the sinks → 2 blocks of 128 + 40 buffered
    expect(st.buffer).toBe(40);
  });

  it('strict policy compresses every appended chunk', () => {
    const cache = createCache({ layout, preset: 'kivi-2', policy: strictPolicy });
    fill(cache, 100, new SeededRandom(2));
    const st = cache.layerStates[1]!;
    expect(st.buffer).toBe(0);
    expect(st.blocks.map((b) => b.tokens)).toEqual([28, 32, 32, 4]);
  });

  it('rejects bad input with typed errors', () => {
    const cache = createCache({ layout, preset: 'kivi-2' });
    expect(() => cache.append(0, new Float32Array(C + 1), new Float32Array(C), 1)).toThrow(ShapeError);
    const nan = new Float32Array(C);
    nan[5] = Number.NaN;
    expect(() => cache.append(0, nan, new Float32Array(C), 1)).toThrow(NonFiniteError);
    expect(() => cache.append(1, new Float32Array(C), new Float32Array(C), 1)).toThrow(/in order/);
    expect(() => createCache({ layout, preset: 'aqua-2.5' })).toThrow(MissingAdaptersError);
    expect(() => createCache({ layout, preset: 'nope' })).toThrow(/unknown preset "nope"/);
  });

  it('AQUA predictor on planted linear relations beats the same quantizer without it', () => {
    const rng = new SeededRandom(3);
    const adapters = randomAdapters(rng, layout);
    const aqua = createCache({ layout, preset: 'aqua-2.5', adapters });
    const plain = createCache({
      layout,
      preset: { ...getPreset('aqua-2.5'), name: 'higgs-2-no-predictor', predictor: 'none' },
    });
    // layer l = planted map of layer l-1 (+ small noise)
    const tokens = 512;
    const truth: Float32Array[] = [];
    let prevK = rng.normalArray(tokens * C);
    let prevV = rng.normalArray(tokens * C);
    for (let l = 0; l < layout.layers; l++) {
      let k = prevK;
      let v = prevV;
      if (l > 0) {
        const a = adapters.layers[l]!;
        k = new Float32Array(tokens * C);
        v = new Float32Array(tokens * C);
        for (let t = 0; t < tokens; t++)
          for (let o = 0; o < C; o++) {
            let s = a.keyBias[o]!;
            for (let i = 0; i < C; i++) s += prevK[t * C + i]! * a.keyWeight[o * C + i]!;
            k[t * C + o] = s + 0.02 * rng.normal();
          }
        for (let t = 0; t < tokens; t++)
          for (let o = 0; o < C; o++) {
            let s = a.valueBias[o]!;
            for (let i = 0; i < C; i++) s += k[t * C + i]! * a.valueWeight[o * 2 * C + i]!;
            for (let i = 0; i < C; i++) s += prevV[t * C + i]! * a.valueWeight[o * 2 * C + C + i]!;
            v[t * C + o] = s + 0.02 * rng.normal();
          }
      }
      truth.push(k, v);
      for (const cache of [aqua, plain]) cache.append(l, k, v, tokens);
      prevK = k;
      prevV = v;
    }
    for (let l = 1; l < layout.layers; l++) {
      const ea = relErr(truth[2 * l]!, aqua.reconstruct(l).keys);
      const ep = relErr(truth[2 * l]!, plain.reconstruct(l).keys);
      expect(ea).toBeLessThan(ep / 3);
    }
  });

  it('serialize → deserialize restores the same reconstruction (kivi-2, qaq, AQUA)', () => {
    const rng = new SeededRandom(4);
    const adapters = randomAdapters(rng, layout);
    for (const preset of ['kivi-2', 'qaq', 'aqua-2']) {
      const cache = createCache({
        layout,
        preset,
        adapters: preset.startsWith('aqua') ? adapters : undefined,
      });
      fill(cache, 333, rng);
      const bytes = cache.serialize();
      expect(bytes.length).toBe(cache.memoryBytes());
      const back = deserializeCache(bytes, { adapters: preset.startsWith('aqua') ? adapters : undefined });
      expect(back.length).toBe(333);
      for (let l = 0; l < layout.layers; l++) {
        expect(back.reconstruct(l).keys).toEqual(cache.reconstruct(l).keys);
        expect(back.reconstruct(l).values).toEqual(cache.reconstruct(l).values);
      }
    }
  });

  it('an AQUA snapshot needs matching adapters', () => {
    const rng = new SeededRandom(5);
    const adapters = randomAdapters(rng, layout);
    const cache = createCache({ layout, preset: 'aqua-2.5', adapters });
    fill(cache, 140, rng);
    const bytes = cache.serialize();
    expect(() => deserializeCache(bytes)).toThrow(MissingAdaptersError);
    expect(() => deserializeCache(bytes, { adapters: { ...adapters, model: { name: 'other' } } })).toThrow(
      AdapterMismatchError,
    );
    const other = {
      ...adapters,
      layout: { ...layout, layers: 4 },
      layers: [...adapters.layers, adapters.layers[1]!],
    };
    expect(() => deserializeCache(bytes, { adapters: other })).toThrow(AdapterMismatchError);
  });

  it('corrupt snapshots give CorruptFileError (seeded truncations and bit flips)', () => {
    const rng = new SeededRandom(6);
    const cache = createCache({ layout, preset: 'kivi-2' });
    fill(cache, 200, rng);
    const bytes = cache.serialize();
    for (let i = 0; i < 300; i++) {
      const b = bytes.slice(0, i % 2 === 0 ? Math.floor(rng.next() * bytes.length) : bytes.length);
      if (i % 2 === 1) b[Math.floor(rng.next() * b.length)]! ^= 1 << Math.floor(rng.next() * 8);
      let err: unknown;
      try {
        deserializeCache(b);
      } catch (e) {
        err = e;
      }
      expect(err, `case ${i}`).toBeDefined();
      expect((err as { code?: string }).code, `case ${i}: ${String(err)}`).toMatch(
        /CORRUPT_FILE|UNSUPPORTED_VERSION/,
      );
    }
    expect(() => deserializeCache(bytes.slice(0, 10))).toThrow(CorruptFileError);
  });

  it('storedBitsPerValue = serialized bytes × 8 / values, and bitsPerValue is its limit', () => {
    for (const preset of ['kivi-2', 'k4v2', 'fp8', 'qaq']) {
      const small = { layers: 1, queryHeads: 2, kvHeads: 2, headDim: 64 };
      const cache = createCache({ layout: small, preset });
      const rng = new SeededRandom(7);
      let t = 0;
      for (const target of [100, 1000, 4000, 65536]) {
        while (t < target) {
          const n = Math.min(512, target - t);
          cache.append(0, rng.normalArray(n * C), rng.normalArray(n * C), n);
          t += n;
        }
        const st = cache.stats();
        const bytes = cache.serialize().length;
        expect(Math.abs(st.storedBitsPerValue - (bytes * 8) / st.values)).toBeLessThan(0.01);
        expect(st.values).toBe(t * C * 2);
      }
      const nominal = presetBitsPerValue(getPreset(preset), small);
      const st = cache.stats();
      if (preset !== 'qaq') expect(Math.abs(st.bitsPerValue - nominal.bitsPerValue)).toBeLessThan(1e-9);
      expect(Math.abs(st.storedBitsPerValue - st.bitsPerValue)).toBeLessThan(preset === 'qaq' ? 0.3 : 0.05);
    }
  });

  it('truncate and fork', () => {
    const rng = new SeededRandom(8);
    const cache = createCache({ layout, preset: 'kivi-4' });
    fill(cache, 300, rng);
    const fork = cache.fork();
    const before = cache.reconstruct(2).keys.slice(0, 200 * C);
    cache.truncate(200);
    expect(cache.length).toBe(200);
    expect(cache.reconstruct(2).keys).toEqual(before);
    expect(fork.length).toBe(300);
    fill(cache, 64, rng);
    expect(cache.length).toBe(264);
    const back = deserializeCache(cache.serialize());
    expect(back.reconstruct(1).keys).toEqual(cache.reconstruct(1).keys);
    expect(() => cache.truncate(1000)).toThrow(InvalidArgumentError);
    cache.dispose();
    expect(() => cache.length).toThrow(/dispose/);
  });

  it('QAQ attention-aware: tokens that receive attention keep lower error', () => {
    const small = { layers: 1, queryHeads: 2, kvHeads: 2, headDim: 64 };
    const cache = createCache({ layout: small, preset: 'qaq', policy: strictPolicy });
    const rng = new SeededRandom(9);
    const data = rng.normalArray(640 * C);
    for (let t0 = 0; t0 < 640; t0 += 32) {
      if (t0 > 0) {
        const w = new Float32Array(t0);
        for (let t = 64; t < 96 && t < t0; t++) w[t] = 1; // tokens 64..95 are the important ones
        cache.observeAttention(0, w);
      }
      cache.append(0, data.subarray(t0 * C, (t0 + 32) * C), data.subarray(t0 * C, (t0 + 32) * C), 32);
    }
    const rec = cache.reconstruct(0).keys;
    const err = (a: number, b: number) => relErr(data.subarray(a * C, b * C), rec.subarray(a * C, b * C));
    expect(err(64, 96)).toBeLessThan(err(256, 288) * 0.8);
    expect(cache.layerStates[0]!.blocks.filter((b) => b.high).length).toBeLessThanOrEqual(3);
  });

  it('every preset lists exact bits/value for the kvq-ref-35M layout', () => {
    const ref = { layers: 12, queryHeads: 8, kvHeads: 2, headDim: 64 };
    for (const p of listPresets()) {
      const b = presetBitsPerValue(p, ref);
      expect(b.bitsPerValue).toBeGreaterThan(1);
      expect(b.bitsPerValue).toBeLessThanOrEqual(16);
    }
    expect(presetBitsPerValue(getPreset('fp16'), ref).bitsPerValue).toBe(16);
    expect(presetBitsPerValue(getPreset('kivi-2'), ref).bitsPerValue).toBe(3);
  });
});
