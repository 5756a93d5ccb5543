/**
 * @kvq/core/testing — the backend conformance suite (uses vitest, an optional peer dependency).
 * @packageDocumentation
 */
export {
  runConformance,
  relL2,
  CONFORMANCE_SPECS,
  CONFORMANCE_TOLERANCE,
  type ConformanceOptions,
} from './conformance.js';
export { randomAdapters } from './random-adapters.js';
