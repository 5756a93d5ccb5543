import { DTypeError, NonFiniteError, ShapeError } from './errors.js';

/** A dense fp32 tensor with an explicit row-major shape. */
export interface Tensor {
  readonly data: Float32Array;
  readonly shape: readonly number[];
}

/** Product of a shape's dimensions. */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Creates a zero-filled tensor of the given shape. */
export function zeros(shape: readonly number[]): Tensor {
  return { data: new Float32Array(numel(shape)), shape: [...shape] };
}

/**
 * Checks that `data` is a Float32Array with exactly `numel(shape)` elements.
 * `expected` may hold names for documentation (e.g. `['tokens', 2, 64]`) where any size is allowed.
 */
export function assertShape(
  what: string,
  data: unknown,
  actualShape: readonly number[],
  expected: readonly (number | string)[],
): asserts data is Float32Array {
  if (!(data instanceof Float32Array)) {
    throw new DTypeError(
      what,
      'Float32Array',
      data === null ? 'null' : ((data as object)?.constructor?.name ?? typeof data),
    );
  }
  const ok =
    actualShape.length === expected.length &&
    actualShape.every(
      (d, i) => Number.isInteger(d) && d >= 0 && (typeof expected[i] === 'string' || expected[i] === d),
    );
  if (!ok || data.length !== numel(actualShape)) {
    throw new ShapeError(what, expected, data.length !== numel(actualShape) ? [data.length] : actualShape);
  }
}

/** Throws {@link NonFiniteError} at the first NaN or ±Inf. */
export function assertFinite(what: string, data: ArrayLike<number>): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (!Number.isFinite(v)) throw new NonFiniteError(what, i, v);
  }
}
