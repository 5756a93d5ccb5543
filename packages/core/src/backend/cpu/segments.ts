import { InvalidArgumentError } from '../../errors.js';
import { createQuantizer } from '../../quantizers/factory.js';
import type { CacheSegment } from '../types.js';

/** Concatenates a cache's segments into dense `[total, kvHeads, headDim]` keys and values (decoding encoded ones). */
export function densifySegments(
  segments: readonly CacheSegment[],
  kvHeads: number,
  headDim: number,
): { keys: Float32Array; values: Float32Array; tokens: number } {
  const c = kvHeads * headDim;
  let total = 0;
  for (const s of segments) total += s.tokens;
  const keys = new Float32Array(total * c);
  const values = new Float32Array(total * c);
  let pos = 0;
  for (const s of segments) {
    const n = s.tokens * c;
    if (s.kind === 'dense') {
      if (s.keys.length !== n || s.values.length !== n) {
        throw new InvalidArgumentError(
          `attention: a dense segment of ${s.tokens} tokens must hold ${n} keys and values`,
        );
      }
      keys.set(s.keys, pos * c);
      values.set(s.values, pos * c);
    } else {
      const shape = { tokens: s.tokens, kvHeads, headDim };
      if (
        s.keys.shape.tokens !== s.tokens ||
        s.keys.shape.kvHeads !== kvHeads ||
        s.keys.shape.headDim !== headDim
      ) {
        throw new InvalidArgumentError(
          `attention: encoded segment shape ${JSON.stringify(s.keys.shape)} ≠ ${JSON.stringify(shape)}`,
        );
      }
      keys.set(createQuantizer(s.keySpec).decode(s.keys), pos * c);
      values.set(createQuantizer(s.valueSpec).decode(s.values), pos * c);
    }
    pos += s.tokens;
  }
  return { keys, values, tokens: total };
}
