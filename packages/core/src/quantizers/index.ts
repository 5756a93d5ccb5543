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
export { createQuantizer } from './factory.js';
