import { isAvailable, unavailableReason } from '../src/index.js';

/** Whether this machine has a usable CUDA device (GPU tests skip with the reason otherwise). */
export const hasGpu = isAvailable();
/** The reason GPU tests are skipped here. */
export const skipReason = hasGpu ? '' : ` (skipped: ${unavailableReason()})`;
