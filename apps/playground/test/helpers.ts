import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sharedFolders } from '../server/shared-assets.js';

/** The playground's folder. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The stories260K GGUF the tests use, or undefined when the shared folder lacks it. */
export function storiesPath(): string | undefined {
  try {
    const p = join(sharedFolders().models, 'stories260K.gguf');
    return existsSync(p) ? p : undefined;
  } catch {
    return undefined;
  }
}

/** The TinyStories sample text, or undefined. */
export function storiesTextPath(): string | undefined {
  try {
    const p = join(sharedFolders().data, 'tinystories_sample_30k.txt');
    return existsSync(p) ? p : undefined;
  } catch {
    return undefined;
  }
}

/** A free TCP port on the loopback interface. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}
