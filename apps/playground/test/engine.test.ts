/**
 * The page's engine in Node (the same code the worker runs): generation, comparison, per-layer
 * reconstruction error, adapters, errors; and the dev server's asset middleware.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundledAdaptersDir } from '@kvq/calibrate/node';
import {
  CorruptFileError,
  InvalidArgumentError,
  MissingAdaptersError,
  SeededRandom,
  createCache,
} from '@kvq/core';
import { describe, expect, it } from 'vitest';
import {
  adapterIndex,
  demoModelList,
  sharedAssetsMiddleware,
  sharedFolders,
} from '../server/shared-assets.js';
import { expectedBitsPerValue } from '../src/engine/presets.js';
import { RecordingCache, emptyErrorSums, relativeErrors } from '../src/engine/recording-cache.js';
import { PlaygroundSession } from '../src/engine/session.js';
import { storiesPath, storiesTextPath } from './helpers.js';

const stories = storiesPath();
const ref35 = (() => {
  try {
    const p = join(sharedFolders().models, 'kvq-ref-35M/model-q8_0.gguf');
    return existsSync(p) ? p : undefined;
  } catch {
    return undefined;
  }
})();
const layout = { layers: 3, queryHeads: 4, kvHeads: 2, headDim: 16 };

describe('RecordingCache', () => {
  it('forwards to the inner cache and measures Σ(rec − true)² / Σ true² per layer', () => {
    const rng = new SeededRandom(1);
    const inner = createCache({ layout, preset: 'kivi-2', policy: { sinkTokens: 4, bufferTokens: 0 } });
    const sums = emptyErrorSums(layout.layers);
    const rec = new RecordingCache(inner, sums);
    const c = layout.kvHeads * layout.headDim;
    const truth: { k: Float32Array[]; v: Float32Array[] }[] = [];
    for (let chunk = 0; chunk < 3; chunk++) {
      for (let l = 0; l < layout.layers; l++) {
        const k = rng.normalArray(20 * c);
        const v = rng.normalArray(20 * c);
        rec.append(l, k, v, 20);
        if (!truth[l]) truth[l] = { k: [], v: [] };
        truth[l]!.k.push(k);
        truth[l]!.v.push(v);
      }
    }
    expect(rec.length).toBe(60);
    expect(rec.stats()).toEqual(inner.stats());
    const errs = rec.layerErrors();
    for (let l = 0; l < layout.layers; l++) {
      const r = inner.reconstruct(l);
      const k = new Float32Array(60 * c);
      const v = new Float32Array(60 * c);
      truth[l]!.k.forEach((x, i) => k.set(x, i * 20 * c));
      truth[l]!.v.forEach((x, i) => v.set(x, i * 20 * c));
      let ke = 0;
      let kr = 0;
      let ve = 0;
      let vr = 0;
      for (let i = 4 * c; i < k.length; i++) {
        ke += (r.keys[i]! - k[i]!) ** 2;
        kr += k[i]! ** 2;
        ve += (r.values[i]! - v[i]!) ** 2;
        vr += v[i]! ** 2;
      }
      expect(errs[l]!.keys).toBeCloseTo(ke / kr, 12);
      expect(errs[l]!.values).toBeCloseTo(ve / vr, 12);
      // 2-bit uniform quantization of Gaussian data: a real error, far from 0 and below 1
      expect(errs[l]!.keys).toBeGreaterThan(0.01);
      expect(errs[l]!.keys).toBeLessThan(0.5);
    }
    rec.dispose();
    expect(relativeErrors(sums).map((e) => e.keys)).toEqual(errs.map((e) => e.keys));
    expect(() => inner.stats()).toThrow(); // disposed with the wrapper
  });

  it('fp16 caches reconstruct within fp16 rounding', () => {
    const rng = new SeededRandom(2);
    const rec = new RecordingCache(createCache({ layout, preset: 'fp16' }));
    const c = layout.kvHeads * layout.headDim;
    for (let l = 0; l < layout.layers; l++)
      rec.append(l, rng.normalArray(40 * c), rng.normalArray(40 * c), 40);
    for (const e of rec.layerErrors()) {
      expect(e.keys).toBeLessThan(1e-6);
      expect(e.values).toBeLessThan(1e-6);
    }
    rec.dispose();
  });
});

describe('PlaygroundSession errors', () => {
  it('rejects a file that is not GGUF with a CorruptFileError', () => {
    expect(() => PlaygroundSession.load(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]), 'junk.gguf')).toThrow(
      CorruptFileError,
    );
  });
});

describe.skipIf(!stories)(
  stories ? 'PlaygroundSession on stories260K' : 'PlaygroundSession — SKIPPED: stories260K.gguf not found',
  () => {
    const s = stories
      ? PlaygroundSession.load(new Uint8Array(readFileSync(stories)), 'stories260K.gguf')
      : null!;

    it('generates with live steps and the exact accounting of the cache', async () => {
      const steps: number[] = [];
      const last = await s.generate(
        {
          prompt: 'Once upon a time, there was a little girl named Lily.',
          tokens: 24,
          preset: 'k4v2',
          policy: 'buffer32',
        },
        (st) => steps.push(st.generated),
      );
      expect(steps).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
      expect(last.done).toBe(true);
      expect(last.stats.tokens).toBe(last.promptTokens + 24);
      expect(last.stats.bitsPerValue).toBeCloseTo(expectedBitsPerValue('k4v2', s.model.layout, 32), 12);
      expect(last.stats.bytes).toBeLessThan(last.stats.fp16Bytes);
      expect(last.decodeTokensPerSecond).toBeGreaterThan(0);
      expect(last.text.length).toBeGreaterThan(0);
    });

    it('stops between tokens when asked', async () => {
      let n = 0;
      const last = await s.generate(
        { prompt: 'Once', tokens: 50, preset: 'fp16', policy: 'strict' },
        () => n++,
        () => n >= 3,
      );
      expect(last.generated).toBe(4);
      expect(last.done).toBe(true);
    });

    it('refuses bad requests with typed errors', async () => {
      const base = { prompt: 'Hi', preset: 'kivi-2', policy: 'strict' } as const;
      await expect(s.generate({ ...base, tokens: 0 }, () => {})).rejects.toThrow(InvalidArgumentError);
      await expect(s.generate({ ...base, tokens: 5000 }, () => {})).rejects.toThrow(
        /exceed the model's context/,
      );
      expect(() => s.createCache('aqua-2', 'strict')).toThrow(MissingAdaptersError);
      expect(() => s.addAdapters('kivi-2', new Uint8Array(8), 'x')).toThrow(InvalidArgumentError);
    });

    it('says why AQUA-KV is unavailable: adapters of another model, or a corrupt file', () => {
      const idx = adapterIndex();
      const f = idx.files.find((x) => x.preset === 'aqua-2')!;
      const bytes = new Uint8Array(readFileSync(join(bundledAdaptersDir(), f.url.split('/').pop()!)));
      const reason = s.addAdapters('aqua-2', bytes, f.url);
      expect(reason).toMatch(/fitted for another model/);
      const info = s.info();
      const aqua = info.presets.find((p) => p.name === 'aqua-2')!;
      expect(aqua.available).toBe(false);
      expect(aqua.reason).toBe(reason);
      expect(s.addAdapters('aqua-3', new Uint8Array(16), 'broken.safetensors')).toMatch(
        /^broken\.safetensors: /,
      );
      expect(info.presets.filter((p) => p.available).map((p) => p.name)).toEqual([
        'fp16',
        'fp8',
        'kivi-4',
        'kivi-2',
        'k4v2',
        'k2v4',
        'qaq',
      ]);
    });

    it.skipIf(!storiesTextPath())('compares presets: fp16 is the reference, errors per layer', async () => {
      const text = readFileSync(storiesTextPath()!, 'utf8').slice(0, 2000);
      const r = await s.compare({
        text,
        presets: ['kivi-2', 'k4v2'],
        maxTokens: 96,
        window: 96,
        policy: 'strict',
      });
      expect(r.rows.map((x) => x.name)).toEqual(['fp16', 'kivi-2', 'k4v2']);
      expect(r.tokens).toBe(95);
      expect(r.rows[0]!.kl).toBe(0);
      expect(r.rows[0]!.top1).toBe(1);
      for (const e of r.rows[0]!.layers) expect(e.keys).toBeLessThan(1e-5);
      for (let l = 0; l < 5; l++) expect(r.rows[2]!.layers[l]!.keys).toBeLessThan(r.rows[1]!.layers[l]!.keys);
      expect(r.rows[1]!.kl).toBeGreaterThan(0);
    });
  },
);

describe.skipIf(!ref35)(
  ref35
    ? 'PlaygroundSession on kvq-ref-35M q8_0 with the bundled adapters'
    : 'kvq-ref-35M — SKIPPED: model not found',
  () => {
    it('accepts the bundled AQUA-KV adapters and generates with aqua-2', async () => {
      const s = PlaygroundSession.load(new Uint8Array(readFileSync(ref35!)), 'model-q8_0.gguf');
      const f = adapterIndex().files.find((x) => x.model === 'kvq-ref-35M' && x.preset === 'aqua-2')!;
      const bytes = new Uint8Array(readFileSync(join(bundledAdaptersDir(), f.url.split('/').pop()!)));
      expect(s.addAdapters('aqua-2', bytes, f.url)).toBeNull();
      expect(s.info().presets.find((p) => p.name === 'aqua-2')!.available).toBe(true);
      const last = await s.generate(
        { prompt: 'The history of the city', tokens: 4, preset: 'aqua-2', policy: 'strict' },
        () => {},
      );
      expect(last.generated).toBe(4);
      expect(last.stats.bitsPerValue).toBeLessThan(2.5);
      expect(last.stats.bytes).toBeLessThan(last.stats.fp16Bytes);
    });
  },
);

describe('dev-server assets', () => {
  it('lists the demo models and the bundled adapters', () => {
    const list = demoModelList(sharedFolders().models);
    expect(list.map((m) => m.id)).toEqual(['stories260K', 'kvq-ref-35M']);
    if (stories) expect(list[0]!.bytes).toBe(readFileSync(stories).byteLength);
    const presets = adapterIndex()
      .files.filter((f) => f.model === 'kvq-ref-35M')
      .map((f) => f.preset)
      .sort();
    expect(presets).toEqual(['aqua-2', 'aqua-2.5', 'aqua-3', 'kvq-2']);
  });

  it('serves only the listed files (no path traversal)', async () => {
    const mw = sharedAssetsMiddleware();
    const call = (url: string) =>
      new Promise<{ status: number; next: boolean }>((resolve) => {
        const res = {
          statusCode: 200,
          setHeader() {},
          end() {
            resolve({ status: res.statusCode, next: false });
          },
        };
        mw({ url } as never, res as never, () => resolve({ status: 0, next: true }));
      });
    expect(await call('/index.html')).toEqual({ status: 0, next: true });
    expect((await call('/kvq/models/../../etc/passwd.gguf')).status).toBe(404);
    expect((await call('/kvq/adapters/..%2Fpackage.json')).status).toBe(404);
    expect((await call('/kvq/texts/passwd.txt')).status).toBe(404);
    expect(await call('/kvq/demo-models.json')).toEqual({ status: 200, next: false });
  });
});
