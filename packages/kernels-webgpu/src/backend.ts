/**
 * WebGpuBackend: @kvq/core's Backend interface on WGSL kernels. Host arrays in, host arrays out;
 * every temporary GPU buffer of a call is freed before the call returns.
 */
import type {
  Backend,
  BackendOp,
  BlockShape,
  EncodedBlock,
  QuantizerSpec,
  RopeConfig,
  SegmentAttentionInput,
} from '@kvq/core';
import {
  CorruptFileError,
  DisposedError,
  InvalidArgumentError,
  ShapeError,
  assertFinite,
  assertShape,
  createQuantizer,
} from '@kvq/core';
import { BufferScope, type GpuBuffer } from './buffer.js';
import { type GpuContext, type GpuContextOptions, createGpuContext } from './context.js';
import { attentionScoresWgsl, attentionValuesWgsl, softmaxRowsWgsl } from './kernels/attention.wgsl.js';
import { matmulWgsl } from './kernels/matmul.wgsl.js';
import { rmsNormWgsl } from './kernels/rmsnorm.wgsl.js';
import { ropeWgsl } from './kernels/rope.wgsl.js';
import { swigluWgsl } from './kernels/swiglu.wgsl.js';
import { gpuSupportsSpec, recordDecode, recordEncode } from './ops/quantize.js';
import { Recorder, grid } from './ops/recorder.js';
import { ropeTable } from './ops/rope-table.js';

/** Options of {@link createWebGpuBackend}: those of the context, or an existing context to share. */
export interface WebGpuBackendOptions extends GpuContextOptions {
  /** Use this context (not disposed with the backend). */
  readonly context?: GpuContext;
}

/** Creates the WebGPU backend. @throws {@link WebGpuUnavailableError} when WebGPU is not usable here. */
export async function createWebGpuBackend(options: WebGpuBackendOptions = {}): Promise<WebGpuBackend> {
  if (options.context) return new WebGpuBackend(options.context, false);
  return new WebGpuBackend(await createGpuContext(options), true);
}

const OPS: readonly BackendOp[] = ['encode', 'decode', 'linear', 'rmsNorm', 'rope', 'swiglu', 'attention'];

function blockShapeArray(s: BlockShape): number[] {
  return [s.tokens, s.kvHeads, s.headDim];
}

/** The WebGPU implementation of {@link Backend}. */
export class WebGpuBackend implements Backend {
  readonly name = 'webgpu' as const;
  readonly ctx: GpuContext;
  readonly #ownsContext: boolean;
  #disposed = false;

  /** Use {@link createWebGpuBackend}. */
  constructor(ctx: GpuContext, ownsContext: boolean) {
    this.ctx = ctx;
    this.#ownsContext = ownsContext;
  }

  supports(op: BackendOp): boolean {
    return OPS.includes(op);
  }

  /** Whether encode/decode of this quantizer runs in WGSL (others throw UnsupportedOpError). */
  supportsSpec(spec: QuantizerSpec): boolean {
    return gpuSupportsSpec(spec);
  }

  async #run<T>(what: string, fn: (rec: Recorder, scope: BufferScope) => Promise<T>): Promise<T> {
    if (this.#disposed) throw new DisposedError('WebGpuBackend');
    const scope = new BufferScope(this.ctx);
    let rec: Recorder | null = null;
    try {
      return await this.ctx.scoped(what, () => {
        rec = new Recorder(this.ctx);
        return fn(rec, scope);
      });
    } finally {
      (rec as Recorder | null)?.dispose();
      scope.dispose();
    }
  }

  async encode(spec: QuantizerSpec, data: Float32Array, shape: BlockShape): Promise<EncodedBlock> {
    const q = createQuantizer(spec); // validates the spec, gives the exact size
    assertShape(`${spec.kind} input`, data, [data.length], [shape.tokens * shape.kvHeads * shape.headDim]);
    assertFinite(`${spec.kind} input`, data);
    const bytes = q.encodedBytes(shape);
    if (data.length === 0) return { shape: { ...shape }, bytes: new Uint8Array(bytes) };
    return this.#run('encode', async (rec, scope) => {
      const x = scope.upload(data, 'encode input');
      const out = scope.create(bytes, 'encoded block');
      const status = scope.upload(new Uint32Array(1), 'status');
      recordEncode(rec, scope, spec, shape, x, out, status);
      rec.submit();
      const [res, st] = await Promise.all([out.read(bytes), status.read(4)]);
      if (new Uint32Array(st)[0]) {
        throw new InvalidArgumentError(
          `${spec.kind} encode: a value, scale or zero point is outside the fp16/bf16 range and cannot be stored`,
        );
      }
      return { shape: { ...shape }, bytes: new Uint8Array(res) };
    });
  }

  async decode(spec: QuantizerSpec, block: EncodedBlock): Promise<Float32Array> {
    const q = createQuantizer(spec);
    const expected = q.encodedBytes(block.shape);
    if (block.bytes.length !== expected) {
      throw new CorruptFileError(
        `${spec.kind} block`,
        `expected ${expected} bytes, got ${block.bytes.length}`,
      );
    }
    const n = block.shape.tokens * block.shape.kvHeads * block.shape.headDim;
    if (n === 0) return new Float32Array(0);
    return this.#run('decode', async (rec, scope) => {
      const out = scope.create(n * 4, 'decoded');
      const status = scope.upload(new Uint32Array(1), 'status');
      this.#recordDecodeBlock(rec, scope, spec, block, out, status);
      rec.submit();
      const [res, st] = await Promise.all([out.read(n * 4), status.read(4)]);
      if (new Uint32Array(st)[0])
        throw new CorruptFileError(
          `${spec.kind} block`,
          'a non-finite or negative fp16 field or a NaN value',
        );
      return new Float32Array(res);
    });
  }

  #recordDecodeBlock(
    rec: Recorder,
    scope: BufferScope,
    spec: QuantizerSpec,
    block: EncodedBlock,
    out: GpuBuffer,
    status: GpuBuffer,
  ): void {
    const blk = scope.upload(block.bytes, 'encoded block');
    recordDecode(rec, scope, spec, block.shape, blk, out, status);
  }

  async linear(
    x: Float32Array,
    rows: number,
    w: Float32Array,
    inDim: number,
    outDim: number,
    bias?: Float32Array,
  ): Promise<Float32Array> {
    assertShape('linear x', x, [rows, inDim], [rows, inDim]);
    assertShape('linear w', w, [outDim, inDim], [outDim, inDim]);
    if (bias) assertShape('linear bias', bias, [bias.length], [outDim]);
    if (rows * outDim === 0) return new Float32Array(0);
    return this.#run('linear', async (rec, scope) => {
      const xb = scope.upload(x);
      const wb = scope.upload(w);
      const bb = scope.upload(bias ?? new Float32Array(1));
      const y = scope.create(rows * outDim * 4);
      rec.dispatch(
        'matmul',
        matmulWgsl,
        [rows, inDim, outDim, bias ? 1 : 0],
        [xb, wb, bb, y],
        [Math.ceil(outDim / 64), Math.ceil(rows / 64)],
      );
      rec.submit();
      return new Float32Array(await y.read(rows * outDim * 4));
    });
  }

  async rmsNorm(
    x: Float32Array,
    rows: number,
    dim: number,
    weight: Float32Array,
    eps: number,
  ): Promise<Float32Array> {
    assertShape('rmsNorm x', x, [rows, dim], [rows, dim]);
    assertShape('rmsNorm weight', weight, [dim], [dim]);
    if (rows * dim === 0) return new Float32Array(0);
    return this.#run('rmsNorm', async (rec, scope) => {
      const xb = scope.upload(x);
      const wb = scope.upload(weight);
      const y = scope.create(x.byteLength);
      rec.dispatch('rmsnorm', rmsNormWgsl, [dim, { f32: eps }], [xb, wb, y], grid(this.ctx, rows));
      rec.submit();
      return new Float32Array(await y.read(x.byteLength));
    });
  }

  async rope(
    x: Float32Array,
    tokens: number,
    heads: number,
    headDim: number,
    positions: Int32Array,
    cfg: RopeConfig,
    inverse = false,
  ): Promise<Float32Array> {
    assertShape('rope x', x, [tokens, heads, headDim], [tokens, heads, headDim]);
    if (positions.length !== tokens) throw new ShapeError('rope positions', [tokens], [positions.length]);
    const table = ropeTable(positions, cfg, headDim);
    if (x.length === 0) return new Float32Array(0);
    return this.#run('rope', async (rec, scope) => {
      const xb = scope.upload(x);
      const tb = scope.upload(table);
      this.#recordRope(rec, xb, tb, tokens, heads, headDim, cfg, inverse);
      rec.submit();
      return new Float32Array(await xb.read(x.byteLength));
    });
  }

  #recordRope(
    rec: Recorder,
    x: GpuBuffer,
    table: GpuBuffer,
    tokens: number,
    heads: number,
    headDim: number,
    cfg: RopeConfig,
    inverse: boolean,
  ): void {
    const half = cfg.dims / 2;
    rec.dispatchThreads(
      `rope:${cfg.style}`,
      () => ropeWgsl(cfg.style),
      [tokens, heads, headDim, half, inverse ? 1 : 0],
      [x, table],
      tokens * heads * half,
    );
  }

  async swiglu(gate: Float32Array, up: Float32Array): Promise<Float32Array> {
    assertShape('swiglu up', up, [up.length], [gate.length]);
    if (gate.length === 0) return new Float32Array(0);
    return this.#run('swiglu', async (rec, scope) => {
      const g = scope.upload(gate);
      const u = scope.upload(up);
      const y = scope.create(gate.byteLength);
      rec.dispatchThreads('swiglu', swigluWgsl, [gate.length], [g, u, y], gate.length);
      rec.submit();
      return new Float32Array(await y.read(gate.byteLength));
    });
  }

  async attention(input: SegmentAttentionInput): Promise<Float32Array> {
    const { query, qTokens, queryHeads: Hq, kvHeads: Hkv, headDim: D, qStart, segments } = input;
    if (!Number.isInteger(Hq) || !Number.isInteger(Hkv) || Hkv <= 0 || Hq % Hkv !== 0) {
      throw new InvalidArgumentError(
        `attention: queryHeads (${Hq}) must be a positive multiple of kvHeads (${Hkv})`,
      );
    }
    assertShape('attention query', query, [qTokens, Hq, D], [qTokens, Hq, D]);
    const C = Hkv * D;
    let N = 0;
    for (const s of segments) N += s.tokens;
    if (!Number.isInteger(qStart) || qStart < 0 || qStart + qTokens > N) {
      throw new InvalidArgumentError(
        `attention: queries at ${qStart}..${qStart + qTokens - 1} need keys up to there, cache holds ${N}`,
      );
    }
    for (const [i, s] of segments.entries()) {
      if (s.kind === 'dense') {
        assertShape(`segments[${i}].keys`, s.keys, [s.keys.length], [s.tokens * C]);
        assertShape(`segments[${i}].values`, s.values, [s.values.length], [s.tokens * C]);
      } else {
        for (const blk of [s.keys, s.values]) {
          if (blk.shape.tokens !== s.tokens || blk.shape.kvHeads !== Hkv || blk.shape.headDim !== D) {
            throw new ShapeError(`segments[${i}] block`, [s.tokens, Hkv, D], blockShapeArray(blk.shape));
          }
        }
      }
    }
    const out = qTokens * Hq * D;
    if (out === 0) return new Float32Array(0);
    const table = input.rope
      ? ropeTable(
          Int32Array.from({ length: N }, (_, i) => i),
          input.rope,
          D,
        )
      : null;
    const scale = input.scale ?? 1 / Math.sqrt(D);
    return this.#run('attention', async (rec, scope) => {
      const K = scope.create(N * C * 4, 'attention K');
      const V = scope.create(N * C * 4, 'attention V');
      const status = scope.upload(new Uint32Array(1), 'status');
      let off = 0;
      for (const s of segments) {
        if (s.tokens === 0) continue;
        const bytes = s.tokens * C * 4;
        if (s.kind === 'dense') {
          K.write(s.keys, off);
          V.write(s.values, off);
        } else {
          const kt = scope.create(bytes, 'segment K');
          const vt = scope.create(bytes, 'segment V');
          this.#recordDecodeBlock(rec, scope, s.keySpec, s.keys, kt, status);
          this.#recordDecodeBlock(rec, scope, s.valueSpec, s.values, vt, status);
          rec.copy(kt, K, bytes, 0, off);
          rec.copy(vt, V, bytes, 0, off);
        }
        off += bytes;
      }
      if (table && input.rope) this.#recordRope(rec, K, scope.upload(table), N, Hkv, D, input.rope, false);
      const q = scope.upload(query);
      const S = scope.create(qTokens * Hq * N * 4, 'attention scores');
      const o = scope.create(out * 4, 'attention out');
      const params = [qTokens, Hq, Hkv, D, N, qStart, { f32: scale }];
      rec.dispatchThreads('attn-scores', attentionScoresWgsl, params, [q, K, S], qTokens * Hq * N);
      rec.dispatch('attn-softmax', softmaxRowsWgsl, [N], [S], grid(this.ctx, qTokens * Hq));
      rec.dispatchThreads('attn-values', attentionValuesWgsl, params, [S, V, o], out);
      rec.submit();
      const [res, st] = await Promise.all([o.read(out * 4), status.read(4)]);
      if (new Uint32Array(st)[0])
        throw new CorruptFileError('attention segment', 'a non-finite or negative fp16 field or a NaN value');
      return new Float32Array(res);
    });
  }

  /** Frees what the backend holds; disposes its context if it created it. Idempotent. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    if (this.#ownsContext) this.ctx.dispose();
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
}
