// The inputs every calibration study script shares: its command line (--windows, --tokens, --json),
// kvq-ref-35M (or $KVQ_MODEL), the WikiText-2 evaluation windows (1024 tokens, non-overlapping) and
// the calibration tokens (tokens 4096.. of War and Peace), recorded as K/V of every layer.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { recordKV } from '@kvq/calibrate';
import { LlamaModel, nonOverlappingWindows, readGgufFile, tokenizerFromGguf } from '@kvq/decoder';
import { dataDir, defaultModelPath } from '@kvq/decoder/node';

/**
 * Parses the command line (defaults: 8 windows, `defaultTokens` calibration tokens), loads the model,
 * tokenizes both texts and records the calibration K/V. `onRecord(tokens)` is called before recording.
 */
export async function loadStudyInputs({ defaultTokens, onRecord } = {}) {
  const { values: args } = parseArgs({
    options: {
      windows: { type: 'string', default: '8' },
      tokens: { type: 'string', default: String(defaultTokens ?? 12288) },
      json: { type: 'string' },
    },
  });
  const file = await readGgufFile(defaultModelPath());
  const model = LlamaModel.fromGguf(file);
  const tok = tokenizerFromGguf(file.metadata);
  const windows = nonOverlappingWindows(
    tok.encode(await readFile(`${dataDir()}/wiki.test.raw`, 'utf8')),
    1024,
    Number(args.windows),
  );
  const cal = tok
    .encode(await readFile(`${dataDir()}/war_and_peace.gutenberg2600.txt`, 'utf8'))
    .slice(4096, 4096 + Number(args.tokens));
  onRecord?.(cal.length);
  const rec = await recordKV(model, cal, { windowTokens: 1024 });
  return { args, model, layout: model.layout, windows, cal, rec };
}
