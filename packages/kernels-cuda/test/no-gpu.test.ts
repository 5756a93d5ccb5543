import {
  AdapterMismatchError,
  type AquaAdapters,
  BackendUnavailableError,
  defaultRegistry,
  selectBackend,
} from '@kvq/core';
import { describe, expect, it } from 'vitest';
import {
  CUDA_PRIORITY,
  CudaAquaPredictor,
  createCudaAquaPredictor,
  createCudaBackend,
  isAvailable,
  packageName,
  unavailableReason,
} from '../src/index.js';
import { hasGpu } from './gpu.js';

describe('import and registration (any machine)', () => {
  it('imports and registers cuda above cpu', () => {
    expect(packageName).toBe('@kvq/kernels-cuda');
    const names = defaultRegistry.names();
    expect(names.indexOf('cuda')).toBeGreaterThanOrEqual(0);
    expect(names.indexOf('cuda')).toBeLessThan(names.indexOf('cpu'));
    expect(CUDA_PRIORITY).toBeGreaterThan(-100);
  });

  it('isAvailable agrees with unavailableReason', () => {
    expect(isAvailable()).toBe(unavailableReason() === undefined);
  });
});

const layout = { layers: 2, queryHeads: 2, kvHeads: 1, headDim: 4 };
/** tiny valid AQUA adapters for `layout` (C = 4) */
const adapters: AquaAdapters = {
  layout,
  model: { name: 'tiny' },
  layers: [
    null,
    {
      keyWeight: new Float32Array(16),
      keyBias: new Float32Array(4),
      valueWeight: new Float32Array(32),
      valueBias: new Float32Array(4),
    },
  ],
};

describe('CudaAquaPredictor (any machine)', () => {
  it('validates the adapters before touching CUDA', () => {
    expect(() => createCudaAquaPredictor(adapters, { ...layout, headDim: 8 })).toThrow(AdapterMismatchError);
  });
});

describe.skipIf(hasGpu)('without a CUDA device (skipped: this machine has one)', () => {
  it('reports the reason', () => {
    expect(isAvailable()).toBe(false);
    expect(unavailableReason()).toMatch(/no CUDA driver|no device|not built|compute capability|failed/);
  });

  it('the factory throws BackendUnavailableError with the reason', async () => {
    const err = await createCudaBackend().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect((err as BackendUnavailableError).reason).toBe(unavailableReason());
  });

  it('CudaAquaPredictor throws BackendUnavailableError with the reason', () => {
    let err: unknown;
    try {
      new CudaAquaPredictor(adapters, layout);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect((err as BackendUnavailableError).reason).toBe(unavailableReason());
    expect(() => createCudaAquaPredictor(adapters, layout)).toThrow(BackendUnavailableError);
  });

  it("selectBackend('cuda') fails typed, 'auto' falls back to another backend", async () => {
    await expect(selectBackend('cuda')).rejects.toBeInstanceOf(BackendUnavailableError);
    const b = await selectBackend('auto');
    expect(b.name).not.toBe('cuda');
    b.dispose();
  });
});
