/** A Float32Array that grows by doubling; `view()` is valid until the next growth. */
export class GrowableF32 {
  #data: Float32Array;
  length = 0;

  constructor(capacity = 1024) {
    this.#data = new Float32Array(Math.max(capacity, 16));
  }

  /** Makes room for `n` values in total, keeping the contents. */
  reserve(n: number): void {
    if (n <= this.#data.length) return;
    let cap = this.#data.length;
    while (cap < n) cap *= 2;
    const next = new Float32Array(cap);
    next.set(this.#data.subarray(0, this.length));
    this.#data = next;
  }

  /** Appends values. */
  push(src: Float32Array): void {
    this.reserve(this.length + src.length);
    this.#data.set(src, this.length);
    this.length += src.length;
  }

  /** The first `length` values (a view). */
  view(): Float32Array {
    return this.#data.subarray(0, this.length);
  }

  /** Drops values past `n`. */
  truncate(n: number): void {
    this.length = Math.min(this.length, n);
  }

  /** A copy. */
  clone(): GrowableF32 {
    const g = new GrowableF32(this.#data.length);
    g.push(this.view());
    return g;
  }
}
