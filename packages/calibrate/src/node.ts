/**
 * @kvq/calibrate/node — Node-only helpers: where the adapter files shipped with this package are.
 * @packageDocumentation
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundledAdapterFileName } from './bundled.js';

/** The folder of adapter files shipped with this package. */
export function bundledAdaptersDir(): string {
  // dist/node.js → ../adapters ; src/node.ts (tests) → ../adapters
  return join(dirname(fileURLToPath(import.meta.url)), '..', 'adapters');
}

/**
 * The shipped adapter file for a model and preset (e.g. `kvq-ref-35M`, `aqua-2.5`), or undefined
 * when this package ships none for that pair.
 */
export function findBundledAdapters(model: string, preset: string): string | undefined {
  const path = join(bundledAdaptersDir(), bundledAdapterFileName(model, preset));
  return existsSync(path) ? path : undefined;
}
