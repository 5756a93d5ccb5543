/**
 * Recorder: encodes compute dispatches into one command encoder, owns the small uniform buffers
 * it creates for their parameters, and submits them together.
 */
import { GpuBuffer, Usage } from '../buffer.js';
import type { GpuContext } from '../context.js';

/** A parameter value: an unsigned integer, or `{ f32 }` for a float field. */
export type Param = number | { readonly f32: number };

/** Packs params into 32-bit words (padded to 16 bytes). */
export function packParams(values: readonly Param[]): Uint32Array {
  const words = new Uint32Array(Math.max(4, Math.ceil(values.length / 4) * 4));
  const f = new Float32Array(words.buffer);
  values.forEach((v, i) => {
    if (typeof v === 'number') words[i] = v >>> 0;
    else f[i] = v.f32;
  });
  return words;
}

/** Workgroup counts (x, y) covering `groups` workgroups within the per-dimension limit. */
export function grid(ctx: GpuContext, groups: number): [number, number] {
  const max = ctx.limits.maxComputeWorkgroupsPerDimension;
  if (groups <= max) return [Math.max(1, groups), 1];
  const y = Math.ceil(groups / max);
  return [Math.ceil(groups / y), y];
}

/** Encodes dispatches, then submits them; its parameter buffers are freed on submit (or dispose, if never submitted). */
export class Recorder implements Disposable {
  readonly ctx: GpuContext;
  readonly encoder: GPUCommandEncoder;
  readonly #uniforms: GpuBuffer[] = [];

  constructor(ctx: GpuContext) {
    ctx.check('Recorder');
    this.ctx = ctx;
    this.encoder = ctx.device.createCommandEncoder();
  }

  /**
   * Dispatches pipeline `key` (WGSL from `code()` on first use) with `params` at binding 0 and
   * `buffers` at bindings 1.. (in order). `groups` is [x, y?, z?].
   */
  dispatch(
    key: string,
    code: () => string,
    params: readonly Param[],
    buffers: readonly GpuBuffer[],
    groups: readonly [number, number?, number?],
  ): void {
    const pipeline = this.ctx.pipeline(key, code);
    const ub = GpuBuffer.from(this.ctx, packParams(params), `${key} params`, Usage.UNIFORM | Usage.COPY_DST);
    this.#uniforms.push(ub);
    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: ub.buffer } }];
    buffers.forEach((b, i) => {
      entries.push({ binding: i + 1, resource: { buffer: b.buffer } });
    });
    const bg = this.ctx.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    const pass = this.encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bg);
    pass.dispatchWorkgroups(groups[0], groups[1] ?? 1, groups[2] ?? 1);
    pass.end();
  }

  /** Elementwise dispatch of `threads` invocations in workgroups of `wg`. */
  dispatchThreads(
    key: string,
    code: () => string,
    params: readonly Param[],
    buffers: readonly GpuBuffer[],
    threads: number,
    wg = 256,
  ): void {
    this.dispatch(key, code, params, buffers, grid(this.ctx, Math.ceil(threads / wg)));
  }

  /** Copies `bytes` from `src` to `dst`. */
  copy(src: GpuBuffer, dst: GpuBuffer, bytes: number, srcOffset = 0, dstOffset = 0): void {
    this.encoder.copyBufferToBuffer(src.buffer, srcOffset, dst.buffer, dstOffset, Math.ceil(bytes / 4) * 4);
  }

  /** Submits everything encoded; parameter buffers are destroyed (after the work, as WebGPU defines). */
  submit(): void {
    this.ctx.device.queue.submit([this.encoder.finish()]);
    this.dispose();
  }

  /** Frees the parameter buffers (a recorder that is never submitted must be disposed). Idempotent. */
  dispose(): void {
    for (const b of this.#uniforms.splice(0)) b.dispose();
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
}
