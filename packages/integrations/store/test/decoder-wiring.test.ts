import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SeededRandom } from '@kvq/core';
import { modelsDir } from '@kvq/decoder/node';
import { describe, expect, it } from 'vitest';

const here = import.meta.dirname;
const GGUF = join(modelsDir(here), 'stories260K.gguf');
const built = existsSync(join(here, '..', 'dist', 'decoder.js'));

describe.skipIf(!built)(
  `prefix cache wired into the reference decoder${built ? '' : ' (skipped: build @kvq/store first)'}`,
  () => {
    it('a second process with the same prompt skips prefill for the stored part and gets the same logits', () => {
      const dir = mkdtempSync(join(tmpdir(), 'kvq-store-proc-'));
      const rng = new SeededRandom(5);
      const prompt = [1, ...Array.from({ length: 299 }, () => 3 + (rng.nextUint32() % 500))];
      const run = () =>
        JSON.parse(
          execFileSync(
            process.execPath,
            [join(here, 'fixtures', 'prefill-process.mjs'), GGUF, dir, prompt.join(',')],
            {
              encoding: 'utf8',
              timeout: 60_000,
            },
          ),
        );
      const first = run();
      expect(first).toMatchObject({ reused: 0, prefilled: 300, written: 4, length: 300 });
      const second = run();
      expect(second).toMatchObject({ reused: 256, prefilled: 44, written: 0, length: 300 });
      // fp16 preset: the restored prefix holds exactly the bytes the first process attended to
      expect(second.logits).toEqual(first.logits);
      expect(first.logits.length).toBe(512);
    });
  },
);
