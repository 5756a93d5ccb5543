import { readFileSync } from 'node:fs';
import {
  LlamaModel,
  logSoftmaxRows,
  nonOverlappingWindows,
  readGgufFile,
  tokenizerFromGguf,
} from '@kvq/decoder';
import { describe, expect, it, vi } from 'vitest';
import { runEval } from '../src/commands/eval.js';
import { STORIES, TINY_TEXT } from './helpers.js';

describe('kvq eval (in process, stories260K on TinyStories)', () => {
  it('quick mode: fp16 perplexity equals the no-cache forward pass to 1e-4; compressed presets are scored against it', async () => {
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    let report: Awaited<ReturnType<typeof runEval>>;
    try {
      report = await runEval({
        model: STORIES,
        text: TINY_TEXT,
        presets: 'kivi-2,k4v2',
        quick: true,
        backend: 'cpu',
        progress: false,
      });
    } finally {
      write.mockRestore();
    }
    expect(report.ctx).toBe(256);
    expect(report.protocol).toMatchObject({
      windows: 2,
      chunk: 32,
      sinkTokens: 4,
      bufferTokens: 128,
      name: 'aqua-kv',
    });
    expect(report.results.map((r) => r.preset)).toEqual(['fp16', 'kivi-2', 'k4v2']);

    const file = await readGgufFile(STORIES);
    const model = LlamaModel.fromGguf(file);
    const windows = nonOverlappingWindows(
      tokenizerFromGguf(file.metadata).encode(readFileSync(TINY_TEXT, 'utf8')),
      256,
      2,
    );
    const V = model.config.vocab;
    let nll = 0;
    let n = 0;
    for (const w of windows) {
      const lp = logSoftmaxRows(await model.forward(w, null), w.length, V);
      for (let t = 0; t + 1 < w.length; t++) nll -= lp[t * V + w[t + 1]!]!;
      n += w.length - 1;
    }
    const [fp16, kivi2, k4v2] = report.results;
    expect(report.tokens).toBe(n);
    expect(Math.abs(fp16!.perplexity / Math.exp(nll / n) - 1)).toBeLessThan(1e-4);
    expect(fp16).toMatchObject({ bitsPerValue: 16, relPerplexity: 0, kl: 0, top1: 1 });
    // 2-bit KIVI loses more than 4-bit keys / 2-bit values, and both lose something
    expect(kivi2!.kl).toBeGreaterThan(k4v2!.kl);
    expect(k4v2!.kl).toBeGreaterThan(0);
    expect(kivi2!.top1).toBeLessThan(1);
    expect(kivi2!.bitsPerValue).toBe(3);
    expect(k4v2!.bitsK).toBe(5);
    expect(k4v2!.bitsV).toBe(3);
    expect(kivi2!.kvBytes).toBeLessThan(fp16!.kvBytes);
  });

  it('--strict sets the fp16 buffer to 0; aqua presets without adapters fail before running', async () => {
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      const strict = await runEval({
        model: STORIES,
        text: TINY_TEXT,
        presets: 'kivi-2',
        quick: true,
        windows: 1,
        strict: true,
        backend: 'cpu',
        progress: false,
      });
      expect(strict.protocol).toMatchObject({ name: 'strict', sinkTokens: 4, bufferTokens: 0 });
      await expect(
        runEval({
          model: STORIES,
          text: TINY_TEXT,
          presets: 'fp16,aqua-2.5',
          quick: true,
          backend: 'cpu',
          progress: false,
        }),
      ).rejects.toThrow(/preset "aqua-2.5" predicts K\/V with AQUA-KV adapters, but no adapters were given/);
      await expect(
        runEval({
          model: STORIES,
          text: TINY_TEXT,
          presets: 'kivi-9',
          quick: true,
          backend: 'cpu',
          progress: false,
        }),
      ).rejects.toThrow(/unknown preset "kivi-9"/);
    } finally {
      write.mockRestore();
    }
  });
});
