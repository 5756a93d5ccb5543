/**
 * @kvq/core's backend conformance suite on this backend (every quantizer kind, dense ops,
 * segment attention, against the CPU reference with the suite's tolerances).
 */
import { runConformance } from '@kvq/core/testing';
import { createWebGpuBackend } from '../src/index.js';
import { probe } from './gpu.js';

const p = await probe();

runConformance(() => createWebGpuBackend(), {
  name: p.ok ? `webgpu [${p.reason}]` : 'webgpu',
  quick: process.env.KVQ_CONFORMANCE_FULL !== '1',
  ...(p.ok ? {} : { skip: p.reason }),
});
