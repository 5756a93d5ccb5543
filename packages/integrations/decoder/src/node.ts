/**
 * @kvq/decoder/node — Node-only helpers: where the shared models and data live.
 * @packageDocumentation
 */
export { findSharedDir, modelsDir, dataDir, defaultModelPath, defaultTextPath } from './paths.js';
