import { describe, expect, it } from 'vitest';
import {
  AdapterMismatchError,
  type AquaAdapters,
  InvalidArgumentError,
  MissingAdaptersError,
  type Predictor,
  SeededRandom,
  aquaPredictor,
  createCache,
  deserializeCache,
  nonePredictor,
} from '../../src/index.js';
import { randomAdapters } from '../../src/testing/random-adapters.js';

const layout = { layers: 3, queryHeads: 4, kvHeads: 2, headDim: 64 };
const C = layout.kvHeads * layout.headDim;

/** The CPU predictor, counting its calls (and the calls that returned a prediction). */
function countingPredictor(adapters: AquaAdapters) {
  const inner = aquaPredictor(adapters, layout);
  const counts = { keys: 0, values: 0, predicted: 0 };
  const p: Predictor = {
    kind: 'aqua',
    predictKeys(layer, prevKeys, tokens) {
      counts.keys++;
      const r = inner.predictKeys(layer, prevKeys, tokens);
      if (r) counts.predicted++;
      return r;
    },
    predictValues(layer, keys, prevValues, tokens) {
      counts.values++;
      const r = inner.predictValues(layer, keys, prevValues, tokens);
      if (r) counts.predicted++;
      return r;
    },
  };
  return { predictor: p, counts };
}

/** Appends the same random tokens (chunks of `chunk`) to every cache. */
function fillAll(caches: ReturnType<typeof createCache>[], tokens: number, rng: SeededRandom, chunk = 40) {
  for (let t0 = 0; t0 < tokens; t0 += chunk) {
    const n = Math.min(chunk, tokens - t0);
    for (let l = 0; l < layout.layers; l++) {
      const k = rng.normalArray(n * C);
      const v = rng.normalArray(n * C);
      for (const c of caches) c.append(l, k, v, n);
    }
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

describe('CacheOptions.predictor', () => {
  it('a predictor wrapping the CPU aquaPredictor gives byte-identical snapshots and is called', () => {
    const adapters = randomAdapters(new SeededRandom(11), layout);
    const { predictor, counts } = countingPredictor(adapters);
    const plain = createCache({ layout, preset: 'aqua-2.5', adapters });
    const custom = createCache({ layout, preset: 'aqua-2.5', adapters, predictor });
    fillAll([plain, custom], 300, new SeededRandom(12));
    expect(counts.keys).toBeGreaterThan(0);
    expect(counts.values).toBe(counts.keys);
    // layers 1 and 2 of every compressed block got a prediction
    expect(counts.predicted).toBeGreaterThan(0);
    expect(custom.layerStates[1]!.blocks.length).toBeGreaterThan(0);
    expect(bytesEqual(custom.serialize(), plain.serialize())).toBe(true);
    for (let l = 0; l < layout.layers; l++) {
      expect(custom.reconstruct(l).keys).toEqual(plain.reconstruct(l).keys);
      expect(custom.reconstruct(l).values).toEqual(plain.reconstruct(l).values);
    }
  });

  it('forks keep the given predictor', () => {
    const adapters = randomAdapters(new SeededRandom(13), layout);
    const { predictor, counts } = countingPredictor(adapters);
    const plain = createCache({
      layout,
      preset: 'aqua-2.5',
      adapters,
      policy: { sinkTokens: 4, bufferTokens: 0 },
    });
    const custom = createCache({
      layout,
      preset: 'aqua-2.5',
      adapters,
      predictor,
      policy: { sinkTokens: 4, bufferTokens: 0 },
    });
    fillAll([plain, custom], 40, new SeededRandom(14));
    const forkPlain = plain.fork();
    const forkCustom = custom.fork();
    const before = counts.keys;
    fillAll([forkPlain, forkCustom], 20, new SeededRandom(15));
    expect(counts.keys).toBeGreaterThan(before);
    expect(bytesEqual(forkCustom.serialize(), forkPlain.serialize())).toBe(true);
  });

  it('rejects a predictor for a preset without AQUA, of another kind, or without valid adapters', () => {
    const adapters = randomAdapters(new SeededRandom(16), layout);
    const { predictor } = countingPredictor(adapters);
    expect(() => createCache({ layout, preset: 'kivi-2', predictor })).toThrow(InvalidArgumentError);
    expect(() => createCache({ layout, preset: 'kivi-2', predictor })).toThrow(
      /preset "kivi-2" does not use the AQUA predictor/,
    );
    expect(() => createCache({ layout, preset: 'aqua-2.5', adapters, predictor: nonePredictor })).toThrow(
      InvalidArgumentError,
    );
    expect(() => createCache({ layout, preset: 'aqua-2.5', adapters, predictor: nonePredictor })).toThrow(
      /kind 'aqua'.*got kind "none"/,
    );
    expect(() =>
      createCache({
        layout,
        preset: 'aqua-2.5',
        adapters,
        predictor: { kind: 'aqua' } as unknown as Predictor,
      }),
    ).toThrow(InvalidArgumentError);
    expect(() => createCache({ layout, preset: 'aqua-2.5', predictor })).toThrow(MissingAdaptersError);
    const other = randomAdapters(new SeededRandom(17), { ...layout, headDim: 32 });
    expect(() => createCache({ layout, preset: 'aqua-2.5', adapters: other, predictor })).toThrow(
      AdapterMismatchError,
    );
    const nonFinite: AquaAdapters = {
      ...adapters,
      layers: adapters.layers.map((a, l) =>
        l === 2 && a ? { ...a, keyBias: new Float32Array(C).fill(Number.NaN) } : a,
      ),
    };
    expect(() => createCache({ layout, preset: 'aqua-2.5', adapters: nonFinite, predictor })).toThrow(
      AdapterMismatchError,
    );
  });

  it('deserializeCache takes the same option', () => {
    const adapters = randomAdapters(new SeededRandom(18), layout);
    const cache = createCache({ layout, preset: 'aqua-2.5', adapters });
    fillAll([cache], 200, new SeededRandom(19));
    const bytes = cache.serialize();
    const { predictor, counts } = countingPredictor(adapters);
    const back = deserializeCache(bytes, { adapters, predictor });
    expect(counts.predicted).toBeGreaterThan(0);
    expect(bytesEqual(back.serialize(), bytes)).toBe(true);
    for (let l = 0; l < layout.layers; l++) {
      expect(back.reconstruct(l).keys).toEqual(cache.reconstruct(l).keys);
      expect(back.reconstruct(l).values).toEqual(cache.reconstruct(l).values);
    }
    // the restored cache keeps using it
    const before = counts.keys;
    fillAll([back], 130, new SeededRandom(20));
    expect(counts.keys).toBeGreaterThan(before);

    const kivi = createCache({ layout, preset: 'kivi-2' });
    fillAll([kivi], 10, new SeededRandom(21));
    expect(() => deserializeCache(kivi.serialize(), { predictor })).toThrow(InvalidArgumentError);
    expect(() => deserializeCache(bytes, { predictor })).toThrow(MissingAdaptersError);
  });
});
