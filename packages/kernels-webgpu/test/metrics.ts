/**
 * Error metrics of GPU results against fp64 references, shared by the tests and the device bench
 * (`bench/device.ts` bundles this file). NaN anywhere in the difference counts as infinite error.
 */

/** max |a − b| / max(floor, max |b|) */
function maxRelErr(a: ArrayLike<number>, b: ArrayLike<number>, floor: number): number {
  let num = 0;
  let den = floor;
  for (let i = 0; i < b.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= num)) num = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
    den = Math.max(den, Math.abs(b[i]!));
  }
  return num / den;
}

/** max |a − b| / max(1, max |b|) */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return maxRelErr(a, b, 1);
}

/** max |a − b| / max |b| (no floor: for outputs far from 1 in magnitude) */
export function relMaxErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return maxRelErr(a, b, 0);
}
