/**
 * @kvq/core — interfaces, CPU reference backend, quantizers, caches, presets and file formats.
 * The main entry uses no Node built-ins, so it runs in browsers too.
 * @packageDocumentation
 */
export * from './errors.js';
export * from './layout.js';
export * from './rope-pairs.js';
export * from './tensor.js';
export * from './random.js';
export type * from './quantizers/spec.js';
export type * from './quantizers/types.js';
export type * from './predictors/types.js';
export type * from './backend/types.js';
export type * from './cache/types.js';
export * from './backend/registry.js';
export * from './quantizers/index.js';
export * from './cache/index.js';
export * from './formats/index.js';
