import { join } from 'node:path';
import { AutoModelForCausalLM, AutoTokenizer, env } from '@huggingface/transformers';
import { modelsDir } from '@kvq/decoder/node';

/** The shared models folder (KVQ_MODELS_DIR overrides), used offline. */
export const MODELS = modelsDir();
env.allowRemoteModels = false;
env.localModelPath = `${MODELS}/`;

/** stories260K as transformers.js loads it: the tiny real-weights fixture (fp32 ONNX). */
export async function loadStories() {
  const tokenizer = await AutoTokenizer.from_pretrained('stories260K-onnx');
  const model = await AutoModelForCausalLM.from_pretrained('stories260K-onnx', { dtype: 'fp32' });
  return { tokenizer, model, gguf: join(MODELS, 'stories260K.gguf') };
}
