/**
 * Quantizers of @kvq/core (CPU reference): bit packing, fp16/bf16/fp8 conversion, and every
 * quantizer a {@link QuantizerSpec} describes. Byte layouts: FORMAT.md in this folder.
 * @packageDocumentation
 */
export * from '../float16.js';
export * from './bitpack.js';
export * from './fp8-e4m3.js';
export { blockChannels, blockValues } from './block.js';
export { PassthroughQuantizer } from './passthrough.js';
export { Fp8Quantizer } from './fp8.js';
export { UniformQuantizer } from './uniform.js';
export { CodebookQuantizer, codebookLevels } from './codebook.js';
export { fitCodebook, type FitCodebookOptions, type FittedCodebook } from './fit-codebook.js';
export { lloydMaxGaussian, nearestLevel, midpoints } from './levels.js';
export { fwht, randomSigns, isPowerOfTwo } from './hadamard.js';
export { Grid2dIndex, gaussianGrid2d, nearestPoint2d } from './grid2d.js';
export { HiggsQuantizer } from './higgs.js';
export { higgsGridMse, higgsUnbiasedGain, higgsVarianceGain } from './grid-gain.js';
export {
  LLOYD_MAX_GAUSSIAN,
  LLOYD_MAX_GAUSSIAN_MSE,
  GRID_2D,
  GRID_2D_MSE,
  GRID_2D_RATES,
} from './grids.generated.js';
export { OutlierQuantizer } from './outliers.js';
export { quantizerLabel } from './label.js';
export { createQuantizer } from './factory.js';
