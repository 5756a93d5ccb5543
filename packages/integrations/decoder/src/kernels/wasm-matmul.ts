import { InvalidArgumentError } from '@kvq/core';
import { MATMUL_WASM_BASE64 } from './matmul-wasm.generated.js';
import { matmulTransposed } from './matmul.js';

const PAGE = 65536;

function decodeBase64(b64: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

let compiled: WebAssembly.Module | null | undefined;

/** The compiled SIMD matmul module, or null when this runtime has no WebAssembly SIMD. */
function wasmModule(): WebAssembly.Module | null {
  if (compiled === undefined) {
    try {
      compiled = new WebAssembly.Module(decodeBase64(MATMUL_WASM_BASE64));
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

type MatmulExport = (x: number, rows: number, w: number, n: number, outDim: number, y: number) => void;

/**
 * y = x · wᵀ (+ bias) with a WebAssembly SIMD kernel (f32x4, 4×2 register tile, f32 accumulation).
 * It owns one fixed-size WebAssembly memory: weights allocated with {@link allocWeights} live there
 * and are used without copying; any other operand is copied into a scratch area per call (rows in
 * blocks that fit). The memory never grows, so the weight views stay valid.
 */
export class WasmMatmul {
  readonly #memory: WebAssembly.Memory;
  readonly #matmul: MatmulExport;
  readonly #scratchStart: number;
  readonly #end: number;
  #top: number;
  #f32: Float32Array;

  /** Whether this runtime can run the kernel (WebAssembly with SIMD). */
  static available(): boolean {
    return wasmModule() !== null;
  }

  /**
   * @param weightFloats capacity for weights (floats) handed out by {@link allocWeights}
   * @param scratchFloats scratch for copied operands (default 4M floats = 16 MiB)
   */
  constructor(weightFloats: number, scratchFloats = 4 << 20) {
    const mod = wasmModule();
    if (!mod) throw new InvalidArgumentError('WebAssembly SIMD is not available in this runtime');
    const bytes = (weightFloats + scratchFloats) * 4 + 1024 * 64;
    this.#memory = new WebAssembly.Memory({
      initial: Math.ceil(bytes / PAGE),
      maximum: Math.ceil(bytes / PAGE),
    });
    const inst = new WebAssembly.Instance(mod, { env: { memory: this.#memory } });
    this.#matmul = inst.exports.matmul as MatmulExport;
    this.#top = 64;
    this.#scratchStart = bytes - scratchFloats * 4;
    this.#end = bytes;
    this.#f32 = new Float32Array(this.#memory.buffer);
  }

  /** A zeroed Float32Array of `n` floats inside the kernel's memory (16-byte aligned). */
  allocWeights(n: number): Float32Array {
    const start = Math.ceil(this.#top / 16) * 16;
    if (start + n * 4 > this.#scratchStart) {
      throw new InvalidArgumentError(`WasmMatmul: weight capacity exhausted (asked ${n} floats)`);
    }
    this.#top = start + n * 4;
    return new Float32Array(this.#memory.buffer, start, n);
  }

  /** Whether `a` is a view into the kernel's memory (used in place). */
  owns(a: Float32Array): boolean {
    return a.buffer === this.#memory.buffer;
  }

  /** y[rows, outDim] = x[rows, inDim] · w[outDim, inDim]ᵀ (+ bias). */
  matmul(
    x: Float32Array,
    rows: number,
    w: Float32Array,
    inDim: number,
    outDim: number,
    bias?: Float32Array,
    out: Float32Array = new Float32Array(rows * outDim),
  ): Float32Array {
    const scratch = (this.#end - this.#scratchStart) / 4;
    const wInside = this.owns(w);
    const wFloats = wInside ? 0 : Math.ceil((inDim * outDim) / 4) * 4;
    const perRow = Math.ceil(inDim / 4) * 4 + Math.ceil(outDim / 4) * 4;
    const block = Math.min(rows, Math.floor((scratch - wFloats) / perRow));
    if (inDim % 4 !== 0 || block < 1) return matmulTransposed(x, rows, w, inDim, outDim, bias, out);
    const f32 = this.#f32;
    let p = this.#scratchStart;
    let wPtr = w.byteOffset;
    if (!wInside) {
      f32.set(w.subarray(0, inDim * outDim), p / 4);
      wPtr = p;
      p += wFloats * 4;
    }
    const xPtr = p;
    const yPtr = p + Math.ceil((block * inDim) / 4) * 16;
    for (let r = 0; r < rows; r += block) {
      const n = Math.min(block, rows - r);
      f32.set(x.subarray(r * inDim, (r + n) * inDim), xPtr / 4);
      this.#matmul(xPtr, n, wPtr, inDim, outDim, yPtr);
      out.set(f32.subarray(yPtr / 4, yPtr / 4 + n * outDim), r * outDim);
    }
    if (bias) {
      for (let r = 0; r < rows; r++) for (let j = 0; j < outDim; j++) out[r * outDim + j] += bias[j]!;
    }
    return out;
  }
}
