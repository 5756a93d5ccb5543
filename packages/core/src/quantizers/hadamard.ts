/**
 * Randomized Hadamard rotation of the HIGGS quantizer: seeded random signs and the normalized
 * fast Walsh–Hadamard transform (orthonormal, its own inverse).
 */
import { InvalidArgumentError } from '../errors.js';
import { SeededRandom } from '../random.js';

/** True when `n` is a power of two ≥ 1. */
export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && (n & (n - 1)) === 0;
}

/**
 * `n` random signs (±1) from `seed`: `sign[i] = (r.nextUint32() >>> 31) ? −1 : +1` with
 * `r = new SeededRandom(seed)`, in order.
 */
export function randomSigns(seed: number, n: number): Float32Array {
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`randomSigns: bad length ${n}`);
  const r = new SeededRandom(seed);
  const s = new Float32Array(n);
  for (let i = 0; i < n; i++) s[i] = r.nextUint32() >>> 31 ? -1 : 1;
  return s;
}

/**
 * In-place normalized fast Walsh–Hadamard transform of `x[offset … offset + n)` (n a power of
 * two): butterflies for h = 1, 2, 4, …, then a multiply by fp32(1/√n). Orthonormal and its own
 * inverse. Returns `x`.
 */
export function fwht(x: Float32Array, offset = 0, n: number = x.length - offset): Float32Array {
  if (!isPowerOfTwo(n)) throw new InvalidArgumentError(`fwht: length must be a power of two, got ${n}`);
  if (offset < 0 || offset + n > x.length)
    throw new InvalidArgumentError(`fwht: range [${offset}, ${offset + n}) outside length ${x.length}`);
  for (let h = 1; h < n; h <<= 1) {
    for (let i = offset; i < offset + n; i += h << 1) {
      for (let k = i; k < i + h; k++) {
        const a = x[k]!;
        const b = x[k + h]!;
        x[k] = a + b;
        x[k + h] = a - b;
      }
    }
  }
  const norm = Math.fround(1 / Math.sqrt(n));
  for (let k = offset; k < offset + n; k++) x[k] = x[k]! * norm;
  return x;
}
