import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SeededRandom, createCache, defaultPolicy, strictPolicy } from '@kvq/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { ArrayKVCache, KvqAttention, LlamaModel, greedyGenerate, readGgufFile } from '../src/index.js';
import { STORIES, STORIES_REF_IDS } from './helpers/paths.js';

let model: LlamaModel;
beforeAll(async () => {
  model = LlamaModel.fromGguf(await readGgufFile(STORIES));
});

describe('the decoder with @kvq/core compressed caches (stories260K)', () => {
  it('greedy generation is identical with the fp16 kvq cache and the plain fp32 array cache', async () => {
    const ref = JSON.parse(readFileSync(STORIES_REF_IDS, 'utf8')) as number[];
    const prompt = ref.slice(0, 5);
    const steps = ref.length - prompt.length;
    const plain = await greedyGenerate(model, prompt, steps, new ArrayKVCache(model.layout));
    expect([...prompt, ...plain]).toEqual(ref);
    for (const policy of [defaultPolicy, strictPolicy]) {
      const cache = createCache({ layout: model.layout, preset: 'fp16', policy });
      const out = await greedyGenerate(model, prompt, steps, cache);
      expect(out, `policy ${JSON.stringify(policy)}`).toEqual(plain);
      expect(cache.length).toBe(ref.length - 1);
    }
  });

  it('a 2-bit cache changes the logits, within bounds, and reports its bits', async () => {
    const rng = new SeededRandom(3);
    const ids = Array.from({ length: 96 }, () => Math.floor(rng.next() * 512));
    const run = async (cache: ArrayKVCache | ReturnType<typeof createCache>) => {
      const parts: Float32Array[] = [];
      for (let i = 0; i < ids.length; i += 32) parts.push(await model.forward(ids.slice(i, i + 32), cache));
      return parts;
    };
    const a = await run(new ArrayKVCache(model.layout));
    const kivi = createCache({ layout: model.layout, preset: 'kivi-2', policy: strictPolicy });
    const b = await run(kivi);
    // the first chunk only sees itself (full precision): identical; later chunks read the 2-bit cache
    expect(b[0]).toEqual(a[0]);
    let diff = 0;
    for (let i = 0; i < a[2]!.length; i++) diff = Math.max(diff, Math.abs(a[2]![i]! - b[2]![i]!));
    expect(diff).toBeGreaterThan(1e-3);
    expect(diff).toBeLessThan(10);
    // strict policy: 4 sinks, then blocks of 28, 32, 32 tokens; 2-bit codes + an fp16 scale and zero
    // per group: keys per channel over a block's tokens (32 bits / 28 or / 32 values), values per
    // 32 channels of a token (1 bit per value)
    const keyBits = (28 * 2 + 32 + 64 * 3) / 92;
    expect(kivi.stats().bitsPerValue).toBeCloseTo((keyBits + 3) / 2, 12);
  });

  it('KvqAttention over an fp16 cache matches attention over the exact K/V rounded to fp16', () => {
    const layout = { layers: 1, queryHeads: 4, kvHeads: 2, headDim: 8 };
    const rope = { theta: 10000, dims: 8, style: 'neox' as const };
    const rng = new SeededRandom(4);
    const attn = new KvqAttention(createCache({ layout, preset: 'fp16', policy: strictPolicy }), rope);
    const plain = new KvqAttention(new ArrayKVCache(layout), rope);
    for (let c = 0; c < 3; c++) {
      const q = rng.normalArray(5 * 4 * 8);
      const k = rng.normalArray(5 * 2 * 8);
      const v = rng.normalArray(5 * 2 * 8);
      const got = attn.forward(0, q, k, v, 5);
      const want = plain.forward(0, q, k, v, 5);
      let d = 0;
      for (let i = 0; i < got.length; i++) d = Math.max(d, Math.abs(got[i]! - want[i]!));
      // chunk 0 has no history (identical); later chunks read fp16-rounded K/V (relative error ≤ 2^-11)
      if (c === 0) expect(d).toBe(0);
      else expect(d).toBeLessThan(5e-3);
    }
    expect(attn.length).toBe(15);
  });

  it('the README example runs', () => {
    const example = fileURLToPath(new URL('../examples/custom-decoder.mjs', import.meta.url));
    const out = execFileSync(process.execPath, [example], {
      encoding: 'utf8',
      cwd: fileURLToPath(new URL('..', import.meta.url)),
    });
    expect(out).toMatch(/^256 tokens, 4\.00 bits\/value, \d+ bytes \(fp16: 524288\)\n$/);
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    expect(readme).toContain(readFileSync(example, 'utf8').trim());
  });
});
