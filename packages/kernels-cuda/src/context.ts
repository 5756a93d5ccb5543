import { BackendUnavailableError } from '@kvq/core';
import { type NativeAddon, loadAddon } from './native.js';

/** The CUDA device kvq uses, as reported by the runtime. */
export interface CudaDeviceInfo {
  readonly index: number;
  readonly name: string;
  readonly computeCapability: string;
  readonly multiProcessors: number;
  readonly totalMemory: number;
  readonly driverVersion: number;
}

/** Lowest compute capability the kernels are built for (sm_80). */
export const MIN_COMPUTE_CAPABILITY = 8.0;

interface Probe {
  readonly addon?: NativeAddon;
  readonly device?: CudaDeviceInfo;
  readonly reason?: string;
}
let probe: Probe | undefined;

function remember(p: Probe): Probe {
  probe = p;
  return p;
}

/** Loads the addon and probes device 0 once; never throws. */
export function probeCuda(): Probe {
  if (probe) return probe;
  const { addon, error } = loadAddon();
  if (!addon) return remember({ reason: error ?? 'the CUDA addon could not be loaded' });
  const count = addon.deviceCount();
  if (count.code !== 0) {
    const reason =
      count.name === 'cudaErrorInsufficientDriver'
        ? 'no CUDA driver (or the driver is older than CUDA 13)'
        : count.name === 'cudaErrorNoDevice'
          ? 'no device'
          : `CUDA device query failed: ${count.name} (${count.message})`;
    return remember({ addon, reason });
  }
  if (count.count === 0) return remember({ addon, reason: 'no device' });
  try {
    const p = addon.deviceProps(0);
    const cc = p.major + p.minor / 10;
    if (cc < MIN_COMPUTE_CAPABILITY) {
      return remember({
        addon,
        reason: `compute capability ${p.major}.${p.minor} unsupported (needs ≥ 8.0)`,
      });
    }
    addon.setDevice(0);
    return remember({
      addon,
      device: {
        index: 0,
        name: p.name,
        computeCapability: `${p.major}.${p.minor}`,
        multiProcessors: p.multiProcessors,
        totalMemory: p.totalMemory,
        driverVersion: addon.driverVersion().version,
      },
    });
  } catch (err) {
    return remember({ addon, reason: `CUDA device query failed: ${(err as Error).message}` });
  }
}

/** Whether a usable CUDA device is here; {@link unavailableReason} says why not. Never throws. */
export function isAvailable(): boolean {
  return probeCuda().device !== undefined;
}

/** Why CUDA cannot be used here ("no CUDA driver", "no device", ...), or undefined when it can. */
export function unavailableReason(): string | undefined {
  return probeCuda().reason;
}

/** The addon and device, or throws {@link BackendUnavailableError} with the reason. */
export function requireCuda(): { addon: NativeAddon; device: CudaDeviceInfo } {
  const p = probeCuda();
  if (!p.addon || !p.device) throw new BackendUnavailableError('cuda', p.reason ?? 'unknown reason');
  return { addon: p.addon, device: p.device };
}

/** Free and total device memory in bytes (cudaMemGetInfo). */
export function deviceMemory(): { free: number; total: number } {
  return requireCuda().addon.memInfo();
}
