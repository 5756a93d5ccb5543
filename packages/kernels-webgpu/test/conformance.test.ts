/**
 * @kvq/core's backend conformance suite on this backend (every quantizer kind, dense ops,
 * segment attention, against the CPU reference with the suite's tolerances).
 */
import { runConformance } from '@kvq/core/testing';
import { describe, it } from 'vitest';
import { createWebGpuBackend } from '../src/index.js';
import { probe } from './gpu.js';

const p = await probe();

if (p.ok) {
  runConformance(() => createWebGpuBackend(), {
    name: `webgpu [${p.reason}]`,
    quick: process.env.KVQ_CONFORMANCE_FULL !== '1',
  });
} else {
  describe(`conformance: webgpu — SKIPPED: ${p.reason}`, () => {
    it.skip('needs a WebGPU adapter', () => {});
  });
}
