import { statSync } from 'node:fs';
import { defaultModelPath, defaultTextPath } from '@kvq/decoder/node';
import { CliError, EXIT } from './errors.js';

/**
 * The model and text a command reads: `--model` / `--text`, else the bundled defaults
 * (`KVQ_MODEL`, `KVQ_MODELS_DIR`, `KVQ_DATA_DIR`). A missing file is a bad-input error (exit 3).
 */
export function resolveModelAndText(opts: { model?: string; text?: string }): {
  modelPath: string;
  textPath: string;
} {
  const modelPath = opts.model ?? defaultModelPath();
  const textPath = opts.text ?? defaultTextPath();
  if (!isFile(modelPath))
    throw new CliError(
      `model file not found: ${modelPath}`,
      'pass --model <gguf> or set KVQ_MODEL / KVQ_MODELS_DIR',
      EXIT.input,
    );
  if (!isFile(textPath))
    throw new CliError(
      `text file not found: ${textPath}`,
      'pass --text <file> or set KVQ_DATA_DIR',
      EXIT.input,
    );
  return { modelPath, textPath };
}

/** Whether `path` names an existing regular file (a folder or a missing path is not one). */
export function isFile(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isFile() === true;
}
