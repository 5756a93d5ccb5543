import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dataDir, modelsDir } from '../../src/paths.js';

const here = fileURLToPath(new URL('.', import.meta.url));
export const MODELS = modelsDir(here);
export const DATA = dataDir(here);
export const STORIES = join(MODELS, 'stories260K.gguf');
export const STORIES_REF_IDS = join(MODELS, 'stories260K-onnx', 'reference_greedy_ids.json');
export const REF_DIR = join(MODELS, 'kvq-ref-35M');
export const REF_F16 = join(REF_DIR, 'model-f16.gguf');
export const REF_Q8 = join(REF_DIR, 'model-q8_0.gguf');
export const REF_FIXTURES = join(REF_DIR, 'fixtures.json');

for (const p of [STORIES, REF_F16, REF_FIXTURES]) {
  if (!existsSync(p)) throw new Error(`test fixture missing: ${p} (set KVQ_MODELS_DIR)`);
}
