import { DisposedError, OutOfMemoryError } from '@kvq/core';
import { describe, expect, it } from 'vitest';
import { DeviceArray, DeviceBuffer, deviceMemory } from '../src/index.js';
import { hasGpu, skipReason } from './gpu.js';

describe.skipIf(!hasGpu)(`device memory${skipReason}`, () => {
  it('10,000 create/append/dispose cycles leave device memory where it started', () => {
    const warm = new DeviceArray(64);
    warm.append(new Float32Array(100));
    warm.dispose();
    const before = deviceMemory().free;
    const chunk = Float32Array.from({ length: 300 }, (_, i) => i * 0.5 - 7);
    for (let i = 0; i < 10_000; i++) {
      using a = new DeviceArray(256);
      a.append(chunk);
      a.append(chunk);
      if (i % 2500 === 0) {
        const back = a.buffer.read(new Float32Array(600));
        expect(back.subarray(300)).toEqual(chunk);
      }
    }
    const after = deviceMemory().free;
    expect(Math.abs(before - after)).toBeLessThanOrEqual(2 * 1024 * 1024);
  });

  it('out of memory is a typed error, and the device still works after it', () => {
    const { total } = deviceMemory();
    expect(() => new DeviceBuffer(total * 4)).toThrow(OutOfMemoryError);
    using ok = DeviceBuffer.from(new Float32Array([1, 2, 3]));
    expect(Array.from(ok.read(new Float32Array(3)))).toEqual([1, 2, 3]);
  });

  it('use after dispose throws DisposedError', () => {
    const b = new DeviceBuffer(16);
    b.dispose();
    b.dispose();
    expect(() => b.ptr).toThrow(DisposedError);
  });
});
