// Shared by the measurement scripts: WikiText-2 windows as `kvq eval` cuts them (GGUF tokenizer,
// no BOS, non-overlapping windows) and per-token log-probabilities through node-llama-cpp.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { nonOverlappingWindows, readGgufFile, tokenizerFromGguf } from '@kvq/decoder';
import { dataDir, modelsDir } from '@kvq/decoder/node';

export const GGUF = process.env.KVQ_MODEL ?? join(modelsDir(), 'kvq-ref-35M', 'model-f16.gguf');

export async function windows(ctx, count) {
  const file = await readGgufFile(GGUF);
  const tok = tokenizerFromGguf(file.metadata, GGUF);
  const ids = tok.encode(readFileSync(join(dataDir(), 'wiki.test.raw'), 'utf8'));
  return nonOverlappingWindows(ids, ctx, count).map((w) => Array.from(w));
}

/**
 * Evaluates `ids` on `sequence` (after whatever it holds) and returns, for every token but the
 * last, log p(next) and the arg-max token. (`includeTop: 1`: node-llama-cpp's `includeMax` filter
 * did not return the arg-max here.)
 */
export async function scoreNext(sequence, ids) {
  const items = ids.map((t, i) =>
    i + 1 < ids.length
      ? [
          t,
          {
            generateNext: {
              logits: { filter: { tokens: [ids[i + 1]], includeTop: 1 } },
              totalLogitWeight: true,
            },
          },
        ]
      : t,
  );
  const res = await sequence.controlledEvaluate(items);
  const logp = [];
  const argmax = [];
  for (let i = 0; i + 1 < ids.length; i++) {
    const next = res[i].next;
    let best = -1;
    let max = Number.NEGATIVE_INFINITY;
    for (const [t, l] of next.logits) if (l > max) [max, best] = [l, t];
    logp.push(next.logits.get(ids[i + 1]) - max - Math.log(next.totalLogitWeight));
    argmax.push(best);
  }
  return { logp, argmax };
}

export const ppl = (logp) => Math.exp(-logp.reduce((s, x) => s + x, 0) / logp.length);
