import { expect } from 'vitest';
import { CorruptFileError, KvqError, UnsupportedVersionError } from '../../src/errors.js';
import type { SeededRandom } from '../../src/random.js';

/** Random bytes from a seeded generator. */
export function randomBytes(rng: SeededRandom, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = rng.nextUint32() & 0xff;
  return b;
}

/** Uniform integer in [0, n). */
export function randInt(rng: SeededRandom, n: number): number {
  return Math.floor(rng.next() * n);
}

/** Runs `f`; returns the error it throws, or null. */
export function thrown(f: () => unknown): unknown {
  try {
    f();
    return null;
  } catch (e) {
    return e;
  }
}

/**
 * Asserts that `f` either returns or throws a CorruptFileError / UnsupportedVersionError (never
 * another exception type). Returns 'ok', 'corrupt' or 'version' for tallies.
 */
export function expectTypedOrOk(f: () => unknown, label: string): 'ok' | 'corrupt' | 'version' {
  const e = thrown(f);
  if (e === null) return 'ok';
  if (e instanceof CorruptFileError) return 'corrupt';
  if (e instanceof UnsupportedVersionError) return 'version';
  expect.fail(
    `${label}: threw ${e instanceof KvqError ? e.name : (e as Error)?.constructor?.name}: ${(e as Error)?.message}`,
  );
}

/**
 * Mutations of a valid file used by the fuzz tests: truncation, bit flips, byte overwrites,
 * garbage splices, insertions/deletions, and huge little-endian integers written at random offsets.
 */
export function mutate(rng: SeededRandom, file: Uint8Array): { bytes: Uint8Array; how: string } {
  const kind = randInt(rng, 7);
  const b = file.slice();
  switch (kind) {
    case 0: {
      const n = randInt(rng, file.length);
      return { bytes: file.slice(0, n), how: `truncate to ${n}` };
    }
    case 1: {
      const flips = 1 + randInt(rng, 3);
      const at: number[] = [];
      for (let k = 0; k < flips; k++) {
        const i = randInt(rng, b.length);
        b[i]! ^= 1 << randInt(rng, 8);
        at.push(i);
      }
      return { bytes: b, how: `flip bits at ${at.join(',')}` };
    }
    case 2: {
      const i = randInt(rng, b.length);
      const v = rng.nextUint32() & 0xff;
      b[i] = v === b[i] ? v ^ 0xff : v;
      return { bytes: b, how: `byte ${i} := ${b[i]}` };
    }
    case 3: {
      const i = randInt(rng, b.length);
      const n = Math.min(b.length - i, 1 + randInt(rng, 64));
      b.set(randomBytes(rng, n), i);
      return { bytes: b, how: `garbage ${n} bytes at ${i}` };
    }
    case 4: {
      const i = randInt(rng, b.length + 1);
      const n = 1 + randInt(rng, 16);
      const out = new Uint8Array(b.length + n);
      out.set(b.subarray(0, i));
      out.set(randomBytes(rng, n), i);
      out.set(b.subarray(i), i + n);
      return { bytes: out, how: `insert ${n} bytes at ${i}` };
    }
    case 5: {
      const i = randInt(rng, b.length);
      const n = Math.min(b.length - i, 1 + randInt(rng, 16));
      const out = new Uint8Array(b.length - n);
      out.set(b.subarray(0, i));
      out.set(b.subarray(i + n), i);
      return { bytes: out, how: `delete ${n} bytes at ${i}` };
    }
    default: {
      // huge declared lengths: overwrite 4 or 8 bytes with a big little-endian integer
      const w = rng.next() < 0.5 ? 4 : 8;
      if (b.length < w) return { bytes: b.slice(0, 0), how: 'empty' };
      const i = randInt(rng, b.length - w + 1);
      const dv = new DataView(b.buffer);
      const big = [0xffffffff, 0x7fffffff, 0x80000000, 0xfffffff0, b.length, b.length + 1][randInt(rng, 6)]!;
      if (w === 4) dv.setUint32(i, big, true);
      else dv.setBigUint64(i, [0xffffffffffffffffn, 1n << 53n, BigInt(big)][randInt(rng, 3)]!, true);
      return { bytes: b, how: `u${w * 8} ${big} at ${i}` };
    }
  }
}
