/**
 * A GPU context: one GPUDevice (passed in by the user or requested here), the features and
 * limits this package may use, a pipeline cache, and accounting of the buffers it owns.
 */
import { DisposedError, OutOfMemoryError } from '@kvq/core';
import { DeviceLostError, WebGpuUnavailableError, WebGpuValidationError } from './errors.js';

/** Options of {@link createGpuContext}. */
export interface GpuContextOptions {
  /**
   * Use this device (e.g. one shared with transformers.js or onnxruntime-web). The context then
   * never destroys it; features it was created without are simply not used.
   */
  readonly device?: GPUDevice;
  /** When requesting a device: the adapter's power preference. */
  readonly powerPreference?: GPUPowerPreference;
  /** Node only: flags for Dawn's `create()` (e.g. `['backend=vulkan']`). */
  readonly dawnFlags?: readonly string[];
  /** Do not use `shader-f16` even when the device has it (tests the fallback path). */
  readonly disableShaderF16?: boolean;
  /** Do not use `subgroups` even when the device has it. */
  readonly disableSubgroups?: boolean;
  /**
   * When requesting a device: also request Dawn's experimental `chromium-experimental-subgroup-matrix`
   * feature (cooperative matrices: the int8 tensor-core decode attention) if the adapter has it. In
   * Node this adds Dawn's `allow_unsafe_apis` toggle to the instance, which Dawn requires for the
   * feature (Chrome needs its `--enable-unsafe-webgpu` flag). Off by default. A device passed in
   * is used with whatever features it has.
   */
  readonly subgroupMatrix?: boolean;
  /**
   * Node only: add Dawn's `vulkan_enable_f16_on_nvidia` toggle, without which Dawn's Vulkan backend
   * withholds `shader-f16` from NVIDIA adapters (pending an investigation of f16 conformance-test
   * failures on NVIDIA drivers, crbug.com/42251215) although the driver supports it. With it the H100
   * offers `shader-f16` (and f16 subgroup-matrix shapes), which `DecodeAttention`'s
   * `arithmetic: 'f16'` uses. Off by default.
   */
  readonly nvidiaShaderF16?: boolean;
}

/** An i8 × i8 → i32 subgroup-matrix shape (M × N × K) the device supports. */
export interface GpuI8MatrixShape {
  readonly M: number;
  readonly N: number;
  readonly K: number;
}

/** Optional features this package uses when the device has them. */
export interface GpuFeatures {
  readonly shaderF16: boolean;
  readonly subgroups: boolean;
  readonly timestampQuery: boolean;
  /**
   * i8 subgroup-matrix shapes usable on this device (empty without
   * `chromium-experimental-subgroup-matrix`, or without the adapter's description of them)
   */
  readonly i8Matrices: readonly GpuI8MatrixShape[];
  /** the adapter's subgroup sizes, when it says (min, max) */
  readonly subgroupSizes: readonly [number, number] | null;
}

const SUBGROUP_MATRIX = 'chromium-experimental-subgroup-matrix' as GPUFeatureName;

interface AdapterInfoExt {
  readonly subgroupMinSize?: number;
  readonly subgroupMaxSize?: number;
  readonly subgroupMatrixConfigs?: Iterable<{
    readonly componentType: string;
    readonly resultComponentType: string;
    readonly M: number;
    readonly N: number;
    readonly K: number;
  }>;
}

function i8Shapes(device: GPUDevice, info: AdapterInfoExt | null): GpuI8MatrixShape[] {
  if (!device.features.has(SUBGROUP_MATRIX) || !device.features.has('subgroups' as GPUFeatureName) || !info)
    return [];
  const out: GpuI8MatrixShape[] = [];
  for (const c of info.subgroupMatrixConfigs ?? []) {
    if (c.componentType === 'i8' && c.resultComponentType === 'i32') out.push({ M: c.M, N: c.N, K: c.K });
  }
  return out;
}

/** Limits read from the device (never assumed). */
export interface GpuLimits {
  readonly maxBufferSize: number;
  readonly maxStorageBufferBindingSize: number;
  readonly maxComputeWorkgroupStorageSize: number;
  readonly maxComputeInvocationsPerWorkgroup: number;
  readonly maxComputeWorkgroupsPerDimension: number;
  readonly maxStorageBuffersPerShaderStage: number;
}

// Dawn frees its instance when the object returned by `create()` is garbage-collected, even
// while a device made from it is alive; every context keeps it, and so does this set.
const dawnInstances = new Set<unknown>();

async function requestAdapterAnywhere(
  options: GpuContextOptions,
): Promise<{ adapter: GPUAdapter; instance: unknown | null }> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) {
    const adapter = await nav.gpu.requestAdapter({ powerPreference: options.powerPreference });
    if (!adapter)
      throw new WebGpuUnavailableError('navigator.gpu.requestAdapter() returned null (no WebGPU adapter)');
    return { adapter, instance: null };
  }
  const isNode =
    typeof process !== 'undefined' && !!(process as { versions?: { node?: string } }).versions?.node;
  if (!isNode)
    throw new WebGpuUnavailableError(
      'no navigator.gpu in this environment (WebGPU not supported or not enabled)',
    );
  let mod: { create: (flags: string[]) => GPU; globals: Record<string, unknown> };
  try {
    // A variable specifier keeps browser bundlers from resolving the Node-only package.
    const name = 'webgpu';
    mod = (await import(/* @vite-ignore */ name)) as typeof mod;
  } catch (err) {
    throw new WebGpuUnavailableError(
      `the 'webgpu' package (Dawn for Node) could not be loaded: ${(err as Error).message}; install it with \`npm i webgpu\``,
      { cause: err },
    );
  }
  // WebGPU constants (GPUBufferUsage, GPUShaderStage, GPUMapMode) as in browsers.
  for (const [k, v] of Object.entries(mod.globals)) {
    if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  }
  let gpu: GPU;
  const flags = dawnCreateFlags(options);
  try {
    gpu = mod.create(flags);
  } catch (err) {
    throw new WebGpuUnavailableError(`Dawn's create() failed: ${(err as Error).message}`, { cause: err });
  }
  dawnInstances.add(gpu);
  const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference });
  if (!adapter) {
    dawnInstances.delete(gpu);
    throw new WebGpuUnavailableError(
      'Dawn found no WebGPU adapter (no Vulkan driver? On CPU-only Linux run scripts/setup-vulkan.sh for a software one)',
    );
  }
  return { adapter, instance: gpu };
}

/**
 * @internal The flags for Dawn's `create()`: the caller's `dawnFlags` with the toggles that
 * `subgroupMatrix` and `nvidiaShaderF16` need merged into a single `enable-dawn-features=` list.
 */
export function dawnCreateFlags(options: GpuContextOptions): string[] {
  const flags = [...(options.dawnFlags ?? [])];
  const toggles: string[] = [];
  if (options.subgroupMatrix) toggles.push('allow_unsafe_apis');
  if (options.nvidiaShaderF16) toggles.push('vulkan_enable_f16_on_nvidia');
  if (toggles.length > 0) {
    const i = flags.findIndex((f) => f.startsWith('enable-dawn-features='));
    if (i >= 0) flags[i] = `${flags[i]},${toggles.join(',')}`;
    else flags.push(`enable-dawn-features=${toggles.join(',')}`);
  }
  return flags;
}

function readLimits(l: GPUSupportedLimits): GpuLimits {
  return {
    maxBufferSize: l.maxBufferSize,
    maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
    maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
    maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
  };
}

/**
 * Creates a context on `options.device`, or on a device requested from `navigator.gpu`
 * (browsers) or the `webgpu` package (Node, imported dynamically).
 * @throws {@link WebGpuUnavailableError} when there is no WebGPU or no adapter.
 */
export async function createGpuContext(options: GpuContextOptions = {}): Promise<GpuContext> {
  if (options.device) return new GpuContext(options.device, null, false, options);
  const { adapter, instance } = await requestAdapterAnywhere(options);
  const wanted: GPUFeatureName[] = [];
  for (const f of ['shader-f16', 'subgroups', 'timestamp-query'] as GPUFeatureName[]) {
    if (adapter.features.has(f)) wanted.push(f);
  }
  if (options.subgroupMatrix && adapter.features.has(SUBGROUP_MATRIX) && adapter.features.has('subgroups'))
    wanted.push(SUBGROUP_MATRIX);
  const al = adapter.limits;
  const requiredLimits: Record<string, number> = {
    maxBufferSize: al.maxBufferSize,
    maxStorageBufferBindingSize: al.maxStorageBufferBindingSize,
    maxComputeWorkgroupStorageSize: al.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: al.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupSizeX: al.maxComputeWorkgroupSizeX,
    maxStorageBuffersPerShaderStage: al.maxStorageBuffersPerShaderStage,
  };
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredFeatures: wanted, requiredLimits });
  } catch (err) {
    if (instance) dawnInstances.delete(instance);
    throw new WebGpuUnavailableError(`requestDevice failed: ${(err as Error).message}`, { cause: err });
  }
  return new GpuContext(device, instance, true, options, adapter.info);
}

/** A device and what this package keeps for it. Dispose it when done (destroys the device if it requested it). */
export class GpuContext implements Disposable {
  readonly device: GPUDevice;
  readonly features: GpuFeatures;
  readonly limits: GpuLimits;
  /** Adapter description when this context requested the device. */
  readonly adapterInfo: GPUAdapterInfo | null;
  readonly #instance: unknown;
  readonly #ownsDevice: boolean;
  readonly #pipelines = new Map<string, GPUComputePipeline>();
  #lost: DeviceLostError | null = null;
  #disposed = false;
  #liveBuffers = 0;
  #liveBytes = 0;

  /** Use {@link createGpuContext}. */
  constructor(
    device: GPUDevice,
    instance: unknown,
    ownsDevice: boolean,
    options: GpuContextOptions,
    adapterInfo?: GPUAdapterInfo,
  ) {
    this.device = device;
    this.#instance = instance;
    this.#ownsDevice = ownsDevice;
    this.adapterInfo = adapterInfo ?? null;
    this.features = {
      shaderF16: device.features.has('shader-f16') && !options.disableShaderF16,
      subgroups: device.features.has('subgroups') && !options.disableSubgroups,
      timestampQuery: device.features.has('timestamp-query'),
      i8Matrices: i8Shapes(device, this.#infoExt()),
      subgroupSizes: this.#subgroupSizes(),
    };
    this.limits = readLimits(device.limits);
    device.lost.then((info) => {
      if (!this.#disposed) this.#lost = new DeviceLostError(info.reason, info.message);
    });
  }

  #infoExt(): AdapterInfoExt | null {
    return (this.adapterInfo ??
      (this.device as { adapterInfo?: GPUAdapterInfo }).adapterInfo ??
      null) as AdapterInfoExt | null;
  }

  #subgroupSizes(): [number, number] | null {
    const info = this.#infoExt();
    const lo = info?.subgroupMinSize;
    const hi = info?.subgroupMaxSize;
    return typeof lo === 'number' && typeof hi === 'number' ? [lo, hi] : null;
  }

  /** Buffers this context owns now, and their bytes (for leak checks). */
  get liveBuffers(): number {
    return this.#liveBuffers;
  }
  get liveBytes(): number {
    return this.#liveBytes;
  }
  /** Whether the device was lost. */
  get lost(): boolean {
    return this.#lost !== null;
  }
  get disposed(): boolean {
    return this.#disposed;
  }

  /** Throws {@link DisposedError} or {@link DeviceLostError} unless the context can be used. */
  check(what = 'GpuContext'): void {
    if (this.#disposed) throw new DisposedError(what);
    if (this.#lost) throw this.#lost;
  }

  /** @internal accounting hook of GpuBuffer */
  _track(bytes: number): void {
    this.#liveBuffers += Math.sign(bytes);
    this.#liveBytes += bytes;
  }

  /** A compute pipeline for WGSL `code` (entry point `main`), cached under `key`. */
  pipeline(key: string, code: () => string): GPUComputePipeline {
    this.check();
    let p = this.#pipelines.get(key);
    if (!p) {
      const module = this.device.createShaderModule({ code: code(), label: key });
      p = this.device.createComputePipeline({
        layout: 'auto',
        compute: { module, entryPoint: 'main' },
        label: key,
      });
      this.#pipelines.set(key, p);
    }
    return p;
  }

  /**
   * Runs `fn` inside out-of-memory and validation error scopes; an out-of-memory error becomes
   * {@link OutOfMemoryError}, a validation error {@link WebGpuValidationError}, a lost device
   * {@link DeviceLostError}.
   */
  async scoped<T>(what: string, fn: () => Promise<T> | T): Promise<T> {
    this.check(what);
    const d = this.device;
    d.pushErrorScope('out-of-memory');
    d.pushErrorScope('validation');
    let result: T;
    let thrown: unknown = null;
    try {
      result = await fn();
    } catch (err) {
      thrown = err;
    }
    const validation = await d.popErrorScope();
    const oom = await d.popErrorScope();
    if (this.#lost) throw this.#lost;
    if (oom) throw new OutOfMemoryError(`${what} (${oom.message})`);
    if (validation) throw new WebGpuValidationError(what, validation.message);
    if (thrown) throw thrown;
    return result!;
  }

  /** Frees cached pipelines; destroys the device if this context requested it. Idempotent. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#pipelines.clear();
    if (this.#ownsDevice) this.device.destroy();
    if (this.#instance) {
      // Dawn's instance must outlive the device's pending events: release it once `lost` resolved.
      const inst = this.#instance;
      this.device.lost.then(() => setTimeout(() => dawnInstances.delete(inst), 0));
    }
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
}
