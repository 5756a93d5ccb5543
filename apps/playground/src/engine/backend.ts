import { type Backend, KvqError, SeededRandom } from '@kvq/core';
import { type DenseOps, matmulTransposed } from '@kvq/decoder';

/** Which backend runs the decoder's dense ops, and why. */
export type BackendChoice =
  | {
      readonly kind: 'webgpu';
      readonly ops: DenseOps & { dispose?: () => void };
      /** the adapter as the browser describes it */
      readonly adapter: string;
      /** max |Δ| of a seeded test matmul vs the CPU reference */
      readonly checkError: number;
    }
  | { readonly kind: 'cpu'; readonly ops?: undefined; readonly reason: string };

/** What the page asks for: WebGPU when the browser has it, or the CPU backend. */
export type BackendPreference = 'auto' | 'cpu';

interface GpuLike {
  requestAdapter(): Promise<{
    info?: { vendor?: string; architecture?: string; description?: string };
  } | null>;
}

/**
 * Picks the backend for the dense ops (linear, RMSNorm, SwiGLU): @kvq/kernels-webgpu when
 * `navigator.gpu` gives an adapter (checked with a seeded matmul against the CPU reference), the
 * decoder's CPU path (WebAssembly SIMD) otherwise, with the reason.
 */
export async function chooseBackend(pref: BackendPreference): Promise<BackendChoice> {
  if (pref === 'cpu') return { kind: 'cpu', reason: 'CPU chosen on the page' };
  const gpu = (globalThis as { navigator?: { gpu?: GpuLike } }).navigator?.gpu;
  if (!gpu) return { kind: 'cpu', reason: 'this browser has no WebGPU (navigator.gpu is missing)' };
  let adapter: Awaited<ReturnType<GpuLike['requestAdapter']>>;
  try {
    adapter = await gpu.requestAdapter();
  } catch (e) {
    return { kind: 'cpu', reason: `navigator.gpu.requestAdapter() failed: ${(e as Error).message}` };
  }
  if (!adapter) return { kind: 'cpu', reason: 'navigator.gpu.requestAdapter() returned no adapter' };
  const info = adapter.info ?? {};
  const name =
    [info.vendor, info.architecture, info.description].filter((s) => s).join(' ') || 'unnamed adapter';
  let backend: Backend;
  try {
    const { createWebGpuBackend } = await import('@kvq/kernels-webgpu');
    backend = await createWebGpuBackend();
  } catch (e) {
    const msg = e instanceof KvqError || e instanceof Error ? e.message : String(e);
    return {
      kind: 'cpu',
      reason: `WebGPU adapter "${name}" found but the kvq WebGPU backend failed: ${msg}`,
    };
  }
  try {
    const checkError = await selfCheck(backend);
    if (!(checkError < 1e-3)) {
      backend.dispose();
      return {
        kind: 'cpu',
        reason: `WebGPU adapter "${name}" gave a test matmul off by ${checkError} from the CPU reference`,
      };
    }
    return { kind: 'webgpu', ops: backend, adapter: name, checkError };
  } catch (e) {
    backend.dispose();
    return {
      kind: 'cpu',
      reason: `WebGPU adapter "${name}" failed the test matmul: ${(e as Error).message}`,
    };
  }
}

/** max |Δ| between the backend's linear and the CPU reference on a seeded 5×96 · (40×96)ᵀ product. */
export async function selfCheck(ops: DenseOps): Promise<number> {
  const rng = new SeededRandom(9);
  const rows = 5;
  const inDim = 96;
  const outDim = 40;
  const x = rng.normalArray(rows * inDim);
  const w = rng.normalArray(outDim * inDim);
  const bias = rng.normalArray(outDim);
  const got = await ops.linear(x, rows, w, inDim, outDim, bias);
  const want = matmulTransposed(x, rows, w, inDim, outDim, bias);
  let err = 0;
  for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(got[i]! - want[i]!));
  return err;
}
