/**
 * Registers the WebGPU backend in @kvq/core's default registry under 'webgpu'. Priority 50:
 * below CUDA (100), above the CPU reference (0), as the lead fixed.
 */
import { registerBackend } from '@kvq/core';
import { createWebGpuBackend } from './backend.js';

/** The priority 'webgpu' is registered with. */
export const WEBGPU_PRIORITY = 50;

/** Registers (or re-registers) the backend; done once when the package is imported. */
export function registerWebGpuBackend(): void {
  registerBackend('webgpu', () => createWebGpuBackend(), WEBGPU_PRIORITY);
}
