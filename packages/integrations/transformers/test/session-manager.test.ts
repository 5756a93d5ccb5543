import { Tensor } from '@huggingface/transformers';
import { InvalidArgumentError, SeededRandom } from '@kvq/core';
import { describe, expect, it } from 'vitest';
import { KvqSessionManager, kvModelFromConfig } from '../src/index.js';

const model = kvModelFromConfig({
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  head_dim: 16,
});
function cache(tokens: number, seed: number): Record<string, Tensor> {
  const rng = new SeededRandom(seed);
  const out: Record<string, Tensor> = {};
  for (let l = 0; l < 2; l++)
    for (const kind of ['key', 'value'])
      out[`past_key_values.${l}.${kind}`] = new Tensor('float32', rng.normalArray(2 * tokens * 16), [
        1,
        2,
        tokens,
        16,
      ]);
  return out;
}

describe('KvqSessionManager', () => {
  it('keeps sessions compressed under a byte budget, evicting the least recently used', async () => {
    const one = new KvqSessionManager({ model, preset: 'kivi-2', maxBytes: 1e9 }).put(
      'x',
      cache(256, 1),
    ).bytes;
    const evicted: string[] = [];
    const m = new KvqSessionManager({
      model,
      preset: 'kivi-2',
      maxBytes: Math.floor(2.5 * one),
      onEvict: (id, c) => {
        evicted.push(id);
        c.dispose();
      },
    });
    m.put('a', cache(256, 1));
    m.put('b', cache(256, 2));
    expect((await m.peek('a'))?.get_seq_length()).toBe(256); // a is now the most recently used
    m.put('c', cache(256, 3));
    expect(evicted).toEqual(['b']);
    expect(m.has('a') && m.has('c') && !m.has('b')).toBe(true);
    const s = m.stats();
    expect(s.sessions).toBe(2);
    expect(s.bytes).toBeLessThanOrEqual(Math.floor(2.5 * one));
    // 256 tokens: 4 fp16 sinks, one 128-token kivi-2 block and a 124-token fp16 buffer (the preset's policy)
    expect(s.fp32Bytes / s.bytes).toBeGreaterThan(3);
    const restored = await m.take('a');
    expect(restored?.get_seq_length()).toBe(256);
    expect(m.has('a')).toBe(false);
    expect(await m.take('a')).toBeUndefined();
  });
  it('replacing a session frees the old one; a cache over the budget is refused', () => {
    const m = new KvqSessionManager({ model, preset: 'k4v2', maxBytes: 20_000 });
    m.put('a', cache(32, 1));
    const before = m.stats().bytes;
    m.put('a', cache(32, 2));
    expect(m.stats()).toMatchObject({ sessions: 1, bytes: before });
    expect(() => m.put('big', cache(1024, 3))).toThrow(InvalidArgumentError);
    expect(m.has('big')).toBe(false);
    expect(() => new KvqSessionManager({ model, maxBytes: 0 })).toThrow(InvalidArgumentError);
  });
});
