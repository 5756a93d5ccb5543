/**
 * @kvq/playground — the engine behind the web page, usable from Node too: a GGUF model session
 * (generation with live cache stats, preset comparison with per-layer reconstruction error), the
 * backend choice, and the worker protocol. The page itself is `index.html` + `src/main.ts`.
 * @packageDocumentation
 */
export {
  PlaygroundSession,
  type ModelInfo,
  type GenerateRequest,
  type GenerateStep,
  type CompareRequest,
  type CompareRow,
  type CompareResult,
} from './engine/session.js';
export {
  RecordingCache,
  emptyErrorSums,
  relativeErrors,
  type LayerError,
  type LayerErrorSums,
} from './engine/recording-cache.js';
export {
  BASE_PRESETS,
  AQUA_PRESETS,
  POLICIES,
  isPolicyName,
  presetChoices,
  expectedBitsPerValue,
  type PolicyName,
  type PresetChoice,
} from './engine/presets.js';
export {
  chooseBackend,
  selfCheck,
  type BackendChoice,
  type BackendPreference,
} from './engine/backend.js';
export type { ToWorker, FromWorker, ModelSource, BackendInfo, AdapterIndex } from './protocol.js';
