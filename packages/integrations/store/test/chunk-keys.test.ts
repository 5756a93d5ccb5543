import { InvalidArgumentError } from '@kvq/core';
import { describe, expect, it } from 'vitest';
import { chunkKeys } from '../src/index.js';
import { randomTokens } from './helpers.js';

const id = { model: 'm', adapter: 'a', preset: 'kivi-4' };

describe('chunkKeys', () => {
  it('one key per full chunk; a key names the exact prefix', () => {
    const t = randomTokens(1, 1000);
    const k = chunkKeys(id, t, 256);
    expect(k).toHaveLength(3);
    expect(chunkKeys(id, t.slice(0, 512), 256)).toEqual(k.slice(0, 2));
    const u = t.slice();
    u[300] = (u[300] as number) + 1;
    const k2 = chunkKeys(id, u, 256);
    expect(k2[0]).toBe(k[0]);
    expect(k2[1]).not.toBe(k[1]);
    expect(k2[2]).not.toBe(k[2]);
  });
  it('model, adapter, preset and chunk size change every key', () => {
    const t = randomTokens(2, 512);
    const base = chunkKeys(id, t, 256);
    for (const other of [
      chunkKeys({ ...id, model: 'm2' }, t, 256),
      chunkKeys({ ...id, adapter: 'b' }, t, 256),
      chunkKeys({ ...id, preset: 'kivi-2' }, t, 256),
      chunkKeys(id, t, 128).filter((_, i) => i % 2 === 1),
    ])
      for (let i = 0; i < base.length; i++) expect(other[i]).not.toBe(base[i]);
  });
  it('bad input is a typed error', () => {
    expect(() => chunkKeys(id, [1, -1], 1)).toThrow(InvalidArgumentError);
    expect(() => chunkKeys(id, [1.5], 1)).toThrow(InvalidArgumentError);
    expect(() => chunkKeys(id, [1], 0)).toThrow(InvalidArgumentError);
  });
});
