/**
 * Test helpers: whether a WebGPU adapter is available here (and why not), a shared backend,
 * and fp64 references.
 */
import { type WebGpuBackend, createWebGpuBackend } from '../src/index.js';

export interface Probe {
  readonly ok: boolean;
  /** adapter description, or why there is none */
  readonly reason: string;
  /**
   * a CPU (software) adapter — lavapipe/llvmpipe or SwiftShader: LLVM compiles each unrolled
   * fused-attention kernel for 10–30 s on an idle 2-core machine (its coroutine lowering of the
   * barriers dominates), so the slowest cases are left to real GPUs there
   */
  readonly software: boolean;
  /** the shared backend's context uses shader-f16 */
  readonly shaderF16: boolean;
}

let backendP: Promise<WebGpuBackend> | null = null;

/** The backend every test file shares (one device per test file / worker). */
export function sharedBackend(): Promise<WebGpuBackend> {
  backendP ??= createWebGpuBackend();
  return backendP;
}

/** Tries to create the backend; the reason names the adapter or the error. */
export async function probe(): Promise<Probe> {
  try {
    const b = await sharedBackend();
    const info = b.ctx.adapterInfo;
    const f = b.ctx.features;
    const text = `${info?.vendor ?? ''} ${info?.architecture ?? ''} ${info?.description ?? ''} ${info?.device ?? ''}`;
    return {
      ok: true,
      software: /llvmpipe|lavapipe|swiftshader/i.test(text),
      shaderF16: f.shaderF16,
      reason:
        `${info?.vendor || '?'} ${info?.architecture || ''} ${info?.description || info?.device || ''} f16=${f.shaderF16} subgroups=${f.subgroups}`.replace(
          /\s+/g,
          ' ',
        ),
    };
  } catch (err) {
    backendP = null;
    return {
      ok: false,
      software: false,
      shaderF16: false,
      reason: `no WebGPU adapter: ${(err as Error).message} (run scripts/setup-vulkan.sh and export its env)`,
    };
  }
}

/** Title of a describe block: says it is skipped and why when there is no adapter. */
export function title(name: string, p: Probe): string {
  return p.ok ? `${name} [${p.reason}]` : `${name} — SKIPPED: ${p.reason}`;
}

export { relErr, relMaxErr } from './metrics.js';

export { refAttention } from './attention-reference.js';
