import { runConformance } from '@kvq/core/testing';
import { createCudaBackend, unavailableReason } from '../src/index.js';
import { hasGpu } from './gpu.js';

runConformance(createCudaBackend, { name: 'cuda', ...(hasGpu ? {} : { skip: unavailableReason() }) });
