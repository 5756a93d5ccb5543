import {
  type Backend,
  type BackendOp,
  type BlockShape,
  DisposedError,
  type EncodedBlock,
  InvalidArgumentError,
  type QuantizerSpec,
  type RopeConfig,
  type SegmentAttentionInput,
  createQuantizer,
} from '@kvq/core';
import { type CudaDeviceInfo, requireCuda } from './context.js';
import { DeviceBuffer } from './device-buffer.js';
import { cuda } from './errors.js';
import { decodeBlock, decodeOnDevice, encodeBlock, gpuQuantizes } from './quantizers.js';

const OPS: readonly BackendOp[] = ['encode', 'decode', 'linear', 'rmsNorm', 'rope', 'swiglu', 'attention'];

/**
 * The kvq Backend on an NVIDIA GPU. Dense ops and attention run in CUDA kernels (fp32); encode and
 * decode run in CUDA for fp16/bf16/fp8/uniform and through the CPU reference for the quantizers
 * not ported yet (see {@link gpuQuantizes}). Host arrays in, host arrays out.
 */
export class CudaBackend implements Backend {
  readonly name = 'cuda' as const;
  readonly device: CudaDeviceInfo;
  #disposed = false;

  constructor() {
    this.device = requireCuda().device;
  }

  supports(op: BackendOp): boolean {
    return OPS.includes(op);
  }

  #live() {
    if (this.#disposed) throw new DisposedError('CudaBackend');
    return requireCuda().addon;
  }

  async encode(spec: QuantizerSpec, data: Float32Array, shape: BlockShape): Promise<EncodedBlock> {
    this.#live();
    return encodeBlock(spec, data, shape);
  }

  async decode(spec: QuantizerSpec, block: EncodedBlock): Promise<Float32Array> {
    this.#live();
    return decodeBlock(spec, block);
  }

  async linear(
    x: Float32Array,
    rows: number,
    w: Float32Array,
    inDim: number,
    outDim: number,
    bias?: Float32Array,
  ) {
    const addon = this.#live();
    if (x.length !== rows * inDim || w.length !== outDim * inDim || (bias && bias.length !== outDim)) {
      throw new InvalidArgumentError('linear: shapes do not match');
    }
    const y = new Float32Array(rows * outDim);
    if (y.length === 0) return y;
    using dx = DeviceBuffer.from(x);
    using dw = DeviceBuffer.from(w);
    using db = bias ? DeviceBuffer.from(bias) : undefined;
    using dy = new DeviceBuffer(y.byteLength);
    cuda('linear', () => addon.linear(dx.ptr, dw.ptr, db ? db.ptr : null, dy.ptr, rows, inDim, outDim));
    return dy.read(y);
  }

  async rmsNorm(x: Float32Array, rows: number, dim: number, weight: Float32Array, eps: number) {
    const addon = this.#live();
    if (x.length !== rows * dim || weight.length !== dim)
      throw new InvalidArgumentError('rmsNorm: shapes do not match');
    const y = new Float32Array(x.length);
    if (y.length === 0) return y;
    using dx = DeviceBuffer.from(x);
    using dw = DeviceBuffer.from(weight);
    using dy = new DeviceBuffer(y.byteLength);
    cuda('rmsNorm', () => addon.rmsNorm(dx.ptr, dw.ptr, dy.ptr, rows, dim, eps));
    return dy.read(y);
  }

  async rope(
    x: Float32Array,
    tokens: number,
    heads: number,
    headDim: number,
    positions: Int32Array,
    cfg: RopeConfig,
    inverse = false,
  ) {
    const addon = this.#live();
    if (x.length !== tokens * heads * headDim || positions.length !== tokens)
      throw new InvalidArgumentError('rope: shapes do not match');
    if (cfg.dims % 2 !== 0 || cfg.dims > headDim || cfg.dims <= 0)
      throw new InvalidArgumentError(`rope: bad dims ${cfg.dims}`);
    const y = new Float32Array(x.length);
    if (y.length === 0) return y;
    using dx = DeviceBuffer.from(x);
    using dp = DeviceBuffer.from(positions);
    using dy = new DeviceBuffer(y.byteLength);
    cuda('rope', () =>
      addon.rope(
        dx.ptr,
        dy.ptr,
        dp.ptr,
        tokens,
        heads,
        headDim,
        cfg.dims,
        cfg.theta,
        cfg.scale ?? 1,
        cfg.style === 'neox' ? 1 : 0,
        inverse ? 1 : 0,
      ),
    );
    return dy.read(y);
  }

  async swiglu(gate: Float32Array, up: Float32Array) {
    const addon = this.#live();
    if (gate.length !== up.length) throw new InvalidArgumentError('swiglu: lengths differ');
    const y = new Float32Array(gate.length);
    if (y.length === 0) return y;
    using dg = DeviceBuffer.from(gate);
    using du = DeviceBuffer.from(up);
    using dy = new DeviceBuffer(y.byteLength);
    cuda('swiglu', () => addon.swiglu(dg.ptr, du.ptr, dy.ptr, y.length));
    return dy.read(y);
  }

  /**
   * Segment attention: every segment is decoded into an fp32 K/V buffer on the device (CUDA kernels
   * for fp16/bf16/fp8/uniform), RoPE applied there, then one causal GQA attention kernel. (The fused
   * kernels that read compressed pages directly are {@link PagedDecodeAttention}-style entry points
   * used by the benchmark; this general path materializes fp32 K/V.)
   */
  async attention(input: SegmentAttentionInput): Promise<Float32Array> {
    const addon = this.#live();
    const { query, qTokens, queryHeads: Hq, kvHeads: Hkv, headDim: D, qStart, segments, rope } = input;
    if (query.length !== qTokens * Hq * D) throw new InvalidArgumentError('attention: query shape');
    if (Hkv <= 0 || Hq % Hkv !== 0)
      throw new InvalidArgumentError('attention: queryHeads must be a multiple of kvHeads');
    const C = Hkv * D;
    let N = 0;
    for (const s of segments) N += s.tokens;
    const out = new Float32Array(qTokens * Hq * D);
    if (out.length === 0) return out;
    const bytes = Math.max(1, N * C * 4);
    using k = new DeviceBuffer(bytes);
    using v = new DeviceBuffer(bytes);
    let pos = 0;
    for (const s of segments) {
      const off = pos * C * 4;
      if (s.kind === 'dense') {
        if (s.keys.length !== s.tokens * C || s.values.length !== s.tokens * C) {
          throw new InvalidArgumentError(
            `attention: a dense segment of ${s.tokens} tokens must hold ${s.tokens * C} values`,
          );
        }
        k.write(s.keys, off);
        v.write(s.values, off);
      } else {
        const shape = { tokens: s.tokens, kvHeads: Hkv, headDim: D };
        for (const [spec, blk, dst] of [
          [s.keySpec, s.keys, k],
          [s.valueSpec, s.values, v],
        ] as const) {
          if (blk.shape.tokens !== s.tokens || blk.shape.kvHeads !== Hkv || blk.shape.headDim !== D) {
            throw new InvalidArgumentError(
              `attention: encoded segment shape ${JSON.stringify(blk.shape)} ≠ ${JSON.stringify(shape)}`,
            );
          }
          if (gpuQuantizes(spec, shape)) {
            using src = DeviceBuffer.from(blk.bytes);
            decodeOnDevice(spec, shape, src.ptr, dst.ptr + BigInt(off));
          } else {
            dst.write(createQuantizer(spec).decode(blk), off);
          }
        }
      }
      pos += s.tokens;
    }
    if (rope && N > 0) {
      using dp = DeviceBuffer.from(Int32Array.from({ length: N }, (_, i) => i));
      cuda('rope', () =>
        addon.rope(
          k.ptr,
          k.ptr,
          dp.ptr,
          N,
          Hkv,
          D,
          rope.dims,
          rope.theta,
          rope.scale ?? 1,
          rope.style === 'neox' ? 1 : 0,
          0,
        ),
      );
    }
    using dq = DeviceBuffer.from(query);
    using dout = new DeviceBuffer(out.byteLength);
    const scale = input.scale ?? 1 / Math.sqrt(D);
    cuda('attention', () =>
      addon.attentionF32(dq.ptr, k.ptr, v.ptr, dout.ptr, qTokens, Hq, Hkv, D, N, qStart, scale),
    );
    return dout.read(out);
  }

  dispose(): void {
    this.#disposed = true;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** Creates the CUDA backend, or throws BackendUnavailableError with the reason. */
export async function createCudaBackend(): Promise<CudaBackend> {
  return new CudaBackend();
}
