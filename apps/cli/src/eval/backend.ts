import { type BackendName, selectBackend } from '@kvq/core';
import { type DenseOps, cpuDenseOps } from '@kvq/decoder';

const KERNEL_PACKAGES: Partial<Record<BackendName, string>> = {
  cuda: '@kvq/kernels-cuda',
  webgpu: '@kvq/kernels-webgpu',
};

/**
 * The dense ops of the decoder for `--backend`: `cpu` is the decoder's tiled CPU path; `cuda` and
 * `webgpu` import their kernel package (which registers itself) and select it from @kvq/core's
 * registry, so an unavailable device fails with BackendUnavailableError saying why.
 */
export async function resolveDenseOps(name: BackendName): Promise<DenseOps> {
  if (name === 'cpu') return cpuDenseOps();
  const pkg = KERNEL_PACKAGES[name];
  if (pkg) {
    try {
      await import(/* @vite-ignore */ pkg);
    } catch {
      // not installed: selectBackend below reports "not registered (import its package ...)"
    }
  }
  return selectBackend(name);
}
