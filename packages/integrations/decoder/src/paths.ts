import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError } from '@kvq/core';

/**
 * Finds the project's `shared/` folder (models and data, outside the repository): the first
 * ancestor `A` of `from` for which `A/shared/models` exists. Default `from`: this module's folder.
 */
export function findSharedDir(from: string = dirname(fileURLToPath(import.meta.url))): string | undefined {
  let dir = resolve(from);
  for (;;) {
    const candidate = join(dir, 'shared');
    if (existsSync(join(candidate, 'models'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** The models folder: `$KVQ_MODELS_DIR`, else `<repo>/../shared/models`. */
export function modelsDir(from?: string): string {
  const env = process.env.KVQ_MODELS_DIR;
  if (env) return resolve(env);
  const shared = findSharedDir(from);
  if (!shared)
    throw new InvalidArgumentError(
      'cannot find the models folder: set KVQ_MODELS_DIR (expected <repo>/../shared/models)',
    );
  return join(shared, 'models');
}

/** The data folder: `$KVQ_DATA_DIR`, else `<repo>/../shared/data`. */
export function dataDir(from?: string): string {
  const env = process.env.KVQ_DATA_DIR;
  if (env) return resolve(env);
  const shared = findSharedDir(from);
  if (!shared)
    throw new InvalidArgumentError(
      'cannot find the data folder: set KVQ_DATA_DIR (expected <repo>/../shared/data)',
    );
  return join(shared, 'data');
}

/** The default evaluation model: `$KVQ_MODEL`, else kvq-ref-35M's f16 GGUF in the models folder. */
export function defaultModelPath(from?: string): string {
  const env = process.env.KVQ_MODEL;
  if (env) return resolve(env);
  return join(modelsDir(from), 'kvq-ref-35M', 'model-f16.gguf');
}

/** The default evaluation text: WikiText-2 raw test in the data folder. */
export function defaultTextPath(from?: string): string {
  return join(dataDir(from), 'wiki.test.raw');
}
