/**
 * @kvq/calibrate — records K/V from a model on calibration text and fits AQUA-KV adapters and
 * quantizer parameters.
 * @packageDocumentation
 */
export * from './ridge.js';
export * from './fit-aqua.js';
export * from './record.js';
export * from './allocate-bits.js';
export * from './fit-codebooks.js';
export * from './bundled.js';
