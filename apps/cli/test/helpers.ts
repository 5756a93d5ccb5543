import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dataDir, modelsDir } from '@kvq/decoder/node';

const here = fileURLToPath(new URL('.', import.meta.url));
export const BIN = join(here, '..', 'dist', 'kvq.js');
export const STORIES = join(modelsDir(here), 'stories260K.gguf');
export const TINY_TEXT = join(dataDir(here), 'tinystories_sample_30k.txt');

if (!existsSync(BIN)) throw new Error(`${BIN} is missing: build @kvq/cli first (turbo's test task does)`);

/** Runs the built `kvq` binary in a subprocess. */
export function kvq(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
