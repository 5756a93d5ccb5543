import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A device pointer as the addon passes it (a BigInt address). */
export type DevicePtr = bigint;

/** The native addon's functions (C ABI in native/kvq_cuda.h, glue in native/addon.cc). */
/**
 * The arguments every paged decode-attention entry of the addon starts with, in order (built by the
 * package's internal `decodeArgs`).
 */
export type DecodeArgs = [
  q: DevicePtr,
  pool: DevicePtr,
  pageTable: DevicePtr,
  lens: DevicePtr,
  out: DevicePtr,
  partial: DevicePtr,
  B: number,
  Hq: number,
  Hkv: number,
  maxPages: number,
  P: number,
  splitPages: number,
  scale: number,
];

export interface NativeAddon {
  driverVersion(): { code: number; version: number };
  deviceCount(): { code: number; name: string; message: string; count: number };
  deviceProps(dev: number): {
    name: string;
    major: number;
    minor: number;
    multiProcessors: number;
    totalMemory: number;
  };
  setDevice(dev: number): void;
  memInfo(): { free: number; total: number };
  malloc(bytes: number): DevicePtr;
  free(p: DevicePtr): void;
  h2d(dst: DevicePtr, src: ArrayBufferView, dstOffset?: number): void;
  d2h(src: DevicePtr, dst: ArrayBufferView, srcOffset?: number): void;
  d2d(dst: DevicePtr, src: DevicePtr, bytes: number): void;
  /** cudaMemcpy2D device to device: `height` rows of `widthBytes`, row pitches in bytes */
  d2d2D(
    dst: DevicePtr,
    dpitchBytes: number,
    src: DevicePtr,
    spitchBytes: number,
    widthBytes: number,
    height: number,
  ): void;
  memset(p: DevicePtr, value: number, bytes: number): void;
  sync(): void;
  /**
   * Records the start event; with `busyNs` > 0 a kernel first keeps the GPU busy that long, so that
   * the work enqueued next runs back to back and the events time the GPU alone.
   */
  eventBegin(busyNs?: number): void;
  eventEnd(): number;
  fp16Encode(x: DevicePtr, out: DevicePtr, n: number, bf16: number): void;
  fp16Decode(x: DevicePtr, out: DevicePtr, n: number, bf16: number): void;
  fp8Encode(x: DevicePtr, out: DevicePtr, n: number): void;
  fp8Decode(x: DevicePtr, out: DevicePtr, n: number): void;
  uniformEncode(
    x: DevicePtr,
    out: DevicePtr,
    T: number,
    C: number,
    bits: number,
    axisToken: number,
    gs: number,
    half: number,
  ): void;
  uniformDecode(
    x: DevicePtr,
    out: DevicePtr,
    T: number,
    C: number,
    bits: number,
    axisToken: number,
    gs: number,
    half: number,
  ): void;
  uniformBytes(T: number, C: number, bits: number, axisToken: number, gs: number): number;
  higgsEncode(
    x: DevicePtr,
    out: DevicePtr,
    codes: DevicePtr,
    T: number,
    C: number,
    block: number,
    dim: number,
    codeBits: number,
    table: DevicePtr,
    tableLen: number,
    mids: DevicePtr | null,
    signs: DevicePtr,
    norm: number,
    gain: number,
    zeroCode: number,
    err: DevicePtr,
  ): void;
  higgsDecode(
    x: DevicePtr,
    out: DevicePtr,
    T: number,
    C: number,
    block: number,
    dim: number,
    codeBits: number,
    table: DevicePtr,
    signs: DevicePtr,
    norm: number,
  ): void;
  /** largest Hadamard block the HIGGS kernels take */
  higgsMaxBlock(): number;
  codebookEncode(
    x: DevicePtr,
    out: DevicePtr,
    codes: DevicePtr,
    T: number,
    C: number,
    bits: number,
    axisToken: number,
    gs: number,
    norm: number,
    mids: DevicePtr,
    zeroCode: number,
    err: DevicePtr,
  ): void;
  outliersSelect(
    x: DevicePtr,
    out: DevicePtr,
    work: DevicePtr,
    T: number,
    C: number,
    axisToken: number,
    k: number,
    err: DevicePtr,
  ): void;
  outliersScatter(x: DevicePtr, out: DevicePtr, T: number, C: number, axisToken: number, k: number): void;
  /** largest outlier count per list the CUDA kernels take */
  outliersKmax(): number;
  codebookDecode(
    x: DevicePtr,
    out: DevicePtr,
    T: number,
    C: number,
    bits: number,
    axisToken: number,
    gs: number,
    norm: number,
    levels: DevicePtr,
  ): void;
  linear(
    x: DevicePtr,
    w: DevicePtr,
    bias: DevicePtr | null,
    y: DevicePtr,
    rows: number,
    inDim: number,
    outDim: number,
  ): void;
  rmsNorm(x: DevicePtr, w: DevicePtr, y: DevicePtr, rows: number, dim: number, eps: number): void;
  rope(
    x: DevicePtr,
    y: DevicePtr,
    pos: DevicePtr,
    tokens: number,
    heads: number,
    headDim: number,
    dims: number,
    theta: number,
    scale: number,
    neox: number,
    inverse: number,
  ): void;
  swiglu(g: DevicePtr, u: DevicePtr, y: DevicePtr, n: number): void;
  attentionF32(
    q: DevicePtr,
    k: DevicePtr,
    v: DevicePtr,
    out: DevicePtr,
    Q: number,
    Hq: number,
    Hkv: number,
    D: number,
    N: number,
    qStart: number,
    scale: number,
  ): void;
  decodeAttnF16(
    ...args: [
      ...DecodeArgs,
      /** 0 auto (tensor cores where they apply), 1 CUDA-core kernel, 2 tensor-core kernel */
      impl: number,
    ]
  ): void;
  decodeAttnUniform(
    ...args: [
      ...DecodeArgs,
      bitsK: number,
      gsK: number,
      bitsV: number,
      gsV: number,
      /** 0 auto (tensor cores where they apply), 1 scalar kernel, 2 tensor-core kernel */
      impl: number,
    ]
  ): void;
  decodeAttnHiggs(
    ...args: [
      ...DecodeArgs,
      /** bits per pair code of keys / values */
      cbK: number,
      cbV: number,
      /** float2 [2^cbK] / [2^cbV] pair-code points */
      lutK: DevicePtr,
      lutV: DevicePtr,
      /** fp32 [128] Hadamard signs of keys / values */
      signsK: DevicePtr,
      signsV: DevicePtr,
    ]
  ): void;
  /** whether the HIGGS decode attention kernel handles (G, P, cbK, cbV) */
  decodeAttnHiggsOk(G: number, P: number, cbK: number, cbV: number): boolean;
  /** HIGGS decode attention over a value chain (see kvq_cuda.h): NV = chain.length + 1 value layers */
  decodeAttnHiggsChain(
    ...args: [
      ...DecodeArgs,
      /** device pointers of the earlier layers' pools (1 to 3) */
      chain: readonly DevicePtr[],
      cbK: number,
      cbV: number,
      lutK: DevicePtr,
      lutV: DevicePtr,
      signsK: DevicePtr,
      /** fp32 [NV, Hkv, 128, 128] */
      maps: DevicePtr,
      /** fp32 [Hkv, 128] */
      bias: DevicePtr,
      /** key chain: fp32 [NV − 1, Hkv, 128, 2] query folds (A, B), or null */
      keyFold: DevicePtr | null,
      /** key chain: int32 [128] RoPE partner channels, or null */
      keyPartner: DevicePtr | null,
    ]
  ): void;
  /** whether the value-chain kernel handles (G, P, cbK, cbV, NV) */
  decodeAttnHiggsChainOk(G: number, P: number, cbK: number, cbV: number, NV: number): boolean;
}

let cached: { addon?: NativeAddon; error?: string } | undefined;

/** Where the addon is looked for, first match wins: $KVQ_CUDA_ADDON, prebuilds/<platform>-<arch>, build/Release. */
export function addonCandidates(): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  const roots = [join(here, '..'), join(here, '..', '..')];
  const list: string[] = [];
  if (process.env.KVQ_CUDA_ADDON) list.push(process.env.KVQ_CUDA_ADDON);
  for (const r of roots) {
    list.push(join(r, 'prebuilds', `${process.platform}-${process.arch}`, 'kvq_cuda.node'));
    list.push(join(r, 'build', 'Release', 'kvq_cuda.node'));
  }
  return list;
}

/** Loads the addon once (never at import time). Returns the addon or why it could not be loaded. */
export function loadAddon(): { addon?: NativeAddon; error?: string } {
  if (cached) return cached;
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    cached = { error: `no prebuilt CUDA addon for ${process.platform}-${process.arch} (linux-x64 only)` };
    return cached;
  }
  const require = createRequire(import.meta.url);
  const found = addonCandidates().find((p) => existsSync(p));
  if (!found) {
    cached = { error: 'the CUDA addon is not built (run the package build with nvcc on PATH)' };
    return cached;
  }
  try {
    cached = { addon: require(found) as NativeAddon };
  } catch (err) {
    cached = { error: `the CUDA addon at ${found} failed to load: ${(err as Error).message}` };
  }
  return cached;
}
