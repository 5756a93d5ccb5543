import { BackendRegistry, defaultRegistry } from '@kvq/core';
import { describe, expect, it } from 'vitest';
import { WEBGPU_PRIORITY, WebGpuUnavailableError, createWebGpuBackend } from '../src/index.js';
import { probe, title } from './gpu.js';

describe('registration', () => {
  it("importing the package registers 'webgpu' in the default registry", () => {
    expect(defaultRegistry.names()).toContain('webgpu');
  });
  it('sits between cuda and cpu', () => {
    const r = new BackendRegistry();
    const never = async () => {
      throw new WebGpuUnavailableError('test');
    };
    r.register('cpu', never, 0);
    r.register('cuda', never, 100);
    r.register('webgpu', never, WEBGPU_PRIORITY);
    expect(r.names()).toEqual(['cuda', 'webgpu', 'cpu']);
  });
});

const p = await probe();
describe.skipIf(!p.ok)(title('selection', p), () => {
  it("selectBackend('webgpu') creates this backend", async () => {
    const b = await defaultRegistry.select(['webgpu']);
    expect(b.name).toBe('webgpu');
    expect(b.supports('attention')).toBe(true);
    b.dispose();
    const c = await createWebGpuBackend();
    c.dispose();
  });
});
