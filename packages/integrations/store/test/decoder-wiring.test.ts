import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  InvalidArgumentError,
  type KVLayout,
  SeededRandom,
  ShapeError,
  createCache as makeCache,
} from '@kvq/core';
import { modelsDir } from '@kvq/decoder/node';
import { describe, expect, it } from 'vitest';
import { MemoryLruStore, PrefixCache } from '../src/index.js';

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

    it('rejects an empty prompt and a prefix cache of another layout, with typed errors', async () => {
      const { LlamaModel, readGgufFile } = await import('@kvq/decoder');
      const { prefillWithPrefix } = await import('../src/decoder.js');
      const model = LlamaModel.fromGguf(await readGgufFile(GGUF));
      const mk = (layout: KVLayout) =>
        new PrefixCache({
          store: new MemoryLruStore({ maxBytes: 1e8 }),
          identity: { model: 'stories260K@test', preset: 'fp16' },
          layout,
          chunkTokens: 64,
        });
      const createCache = () => makeCache({ layout: model.layout, preset: 'fp16' });
      await expect(
        prefillWithPrefix({ model, tokens: [], prefix: mk(model.layout), createCache }),
      ).rejects.toThrow(InvalidArgumentError);
      await expect(
        prefillWithPrefix({
          model,
          tokens: [1, 2, 3],
          prefix: mk({ ...model.layout, headDim: 64 }),
          createCache,
        }),
      ).rejects.toThrow(ShapeError);
      const ok = await prefillWithPrefix({ model, tokens: [1, 2, 3], prefix: mk(model.layout), createCache });
      expect(ok).toMatchObject({ reused: 0, prefilled: 3, written: 0 });
    });
  },
);
