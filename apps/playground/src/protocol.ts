/** Messages between the page and its generation worker. */
import type { BackendPreference } from './engine/backend.js';
import type { PolicyName } from './engine/presets.js';
import type {
  CompareRequest,
  CompareResult,
  GenerateRequest,
  GenerateStep,
  ModelInfo,
} from './engine/session.js';

/** Where the model comes from: a URL of the dev/preview server, or a file the person picked. */
export type ModelSource =
  | { readonly kind: 'url'; readonly url: string; readonly name: string }
  | { readonly kind: 'file'; readonly name: string; readonly bytes: ArrayBuffer };

/** Page → worker. */
export type ToWorker =
  | { readonly type: 'backend'; readonly preference: BackendPreference }
  | { readonly type: 'load'; readonly source: ModelSource; readonly adaptersIndex: string }
  | { readonly type: 'generate'; readonly request: GenerateRequest }
  | { readonly type: 'stop' }
  | { readonly type: 'compare'; readonly request: CompareRequest };

/** The backend as the page shows it. */
export type BackendInfo =
  | { readonly kind: 'webgpu'; readonly adapter: string; readonly checkError: number }
  | { readonly kind: 'cpu'; readonly reason: string };

/** Worker → page. */
export type FromWorker =
  | { readonly type: 'backend'; readonly backend: BackendInfo }
  | { readonly type: 'status'; readonly text: string }
  | { readonly type: 'loaded'; readonly info: ModelInfo; readonly seconds: number }
  | {
      readonly type: 'step';
      readonly step: GenerateStep;
      readonly preset: string;
      readonly policy: PolicyName;
    }
  | {
      readonly type: 'compareProgress';
      readonly done: number;
      readonly total: number;
      readonly preset: string;
    }
  | { readonly type: 'compared'; readonly result: CompareResult }
  | {
      readonly type: 'error';
      readonly op: ToWorker['type'];
      readonly name: string;
      readonly message: string;
    };

/** The adapter index served by the dev/preview server (`/kvq/adapters/index.json`). */
export interface AdapterIndex {
  readonly files: readonly { readonly model: string; readonly preset: string; readonly url: string }[];
}
