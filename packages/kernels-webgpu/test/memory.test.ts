import { DisposedError, SeededRandom } from '@kvq/core';
import { describe, expect, it } from 'vitest';
import {
  BufferTooLargeError,
  DeviceLostError,
  GpuBuffer,
  createGpuContext,
  createWebGpuBackend,
} from '../src/index.js';
import { probe, title } from './gpu.js';

const p = await probe();

describe.skipIf(!p.ok)(title('resources: create/dispose, limits, loss', p), () => {
  it('repeated backend create/encode/decode/dispose on one device frees every buffer and does not grow memory', async () => {
    expect(typeof globalThis.gc).toBe('function'); // vitest.config.ts runs the tests with --expose-gc
    const ctx = await createGpuContext();
    const data = new SeededRandom(1).normalArray(256 * 64);
    const shape = { tokens: 256, kvHeads: 2, headDim: 32 };
    const spec = { kind: 'uniform', bits: 2, axis: 'channel', groupSize: 32 } as const;
    const rss: number[] = [];
    for (let i = 0; i < 40; i++) {
      const b = await createWebGpuBackend({ context: ctx });
      const blk = await b.encode(spec, data, shape);
      await b.decode(spec, blk);
      await b.attention({
        query: data.subarray(0, 2 * 32),
        qTokens: 1,
        queryHeads: 2,
        kvHeads: 2,
        headDim: 32,
        qStart: 255,
        segments: [{ kind: 'encoded', tokens: 256, keySpec: spec, valueSpec: spec, keys: blk, values: blk }],
      });
      expect(ctx.liveBuffers).toBe(0); // every temporary freed before each call returned
      b.dispose();
      await expect(b.encode(spec, data, shape)).rejects.toBeInstanceOf(DisposedError);
      globalThis.gc?.();
      rss.push(process.memoryUsage().rss);
    }
    // each round allocates ~1 MB of GPU/host buffers; 30 rounds after warm-up must not accumulate them
    expect(rss[39]! - rss[9]!).toBeLessThan(12 << 20);
    ctx.dispose();
  });

  it('repeated device create/dispose releases the device and its Dawn instance', async () => {
    const rss: number[] = [];
    for (let i = 0; i < 16; i++) {
      const ctx = await createGpuContext();
      new GpuBuffer(ctx, 1 << 20).dispose();
      expect(ctx.liveBuffers).toBe(0);
      ctx.dispose();
      // Dawn and the driver release a destroyed device asynchronously (~100 ms measured with lavapipe)
      await new Promise((r) => setTimeout(r, 300));
      globalThis.gc?.();
      rss.push(process.memoryUsage().rss);
    }
    // measured: flat after a few rounds; keeping each device or instance alive adds ~2 MB a round
    expect(rss[15]! - rss[5]!).toBeLessThan(10 << 20);
  });

  it('GpuBuffer dispose is idempotent and use after dispose throws DisposedError', async () => {
    const ctx = await createGpuContext();
    const live = ctx.liveBytes;
    const b = new GpuBuffer(ctx, 1 << 20);
    expect(ctx.liveBytes - live).toBe(1 << 20);
    b.dispose();
    b.dispose();
    expect(ctx.liveBytes).toBe(live);
    expect(() => b.buffer).toThrow(DisposedError);
    for (let i = 0; i < 200; i++) {
      using t = new GpuBuffer(ctx, 4 << 20);
      t.write(new Float32Array(16));
    }
    expect(ctx.liveBuffers).toBe(0);
    ctx.dispose();
  });

  it('a buffer over the device limits is refused with BufferTooLargeError (limits read from the device)', async () => {
    const ctx = await createGpuContext();
    const lim = ctx.limits.maxStorageBufferBindingSize;
    expect(() => new GpuBuffer(ctx, lim + 4)).toThrow(BufferTooLargeError);
    expect(() => new GpuBuffer(ctx, ctx.limits.maxBufferSize + 4, 0x0008)).toThrow(BufferTooLargeError);
    ctx.dispose();
  });

  it('a lost device gives DeviceLostError', async () => {
    const ctx = await createGpuContext();
    const b = await createWebGpuBackend({ context: ctx });
    ctx.device.destroy();
    await ctx.device.lost;
    await new Promise((r) => setTimeout(r, 10));
    await expect(b.swiglu(new Float32Array(4), new Float32Array(4))).rejects.toBeInstanceOf(DeviceLostError);
    ctx.dispose();
  });

  it('works on a device the caller created (and leaves it alive on dispose)', async () => {
    const owner = await createGpuContext();
    const b = await createWebGpuBackend({ device: owner.device });
    const y = await b.swiglu(Float32Array.of(1, 2), Float32Array.of(3, 4));
    expect(y[1]).toBeCloseTo((2 / (1 + Math.exp(-2))) * 4, 5);
    b.dispose();
    const again = await createWebGpuBackend({ device: owner.device });
    await expect(again.swiglu(Float32Array.of(1), Float32Array.of(1))).resolves.toHaveLength(1);
    again.dispose();
    owner.dispose();
  });
});

describe.skipIf(!p.ok)(title('resources on errors', p), () => {
  it('an op that fails after recording frees its buffers', async () => {
    const ctx = await createGpuContext();
    const b = await createWebGpuBackend({ context: ctx });
    // an outlier count over the WGSL limit fails after the input upload and status buffer exist
    const spec = { kind: 'outliers', axis: 'token', count: 65, inner: { kind: 'fp16' } } as const;
    await expect(
      b.encode(spec, new Float32Array(128 * 8), { tokens: 8, kvHeads: 1, headDim: 128 }),
    ).rejects.toThrow(/count 65/);
    expect(ctx.liveBuffers).toBe(0);
    b.dispose();
    ctx.dispose();
  });
});
