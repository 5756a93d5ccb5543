import { runConformance } from '@kvq/core/testing';
import { describe, it } from 'vitest';
import { createCudaBackend } from '../src/index.js';
import { hasGpu, skipReason } from './gpu.js';

if (hasGpu) runConformance(createCudaBackend, { name: 'cuda' });
else describe(`conformance: cuda${skipReason}`, () => it.skip(`needs a CUDA device${skipReason}`, () => {}));
