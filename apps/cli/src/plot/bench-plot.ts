import type { TopLevelSpec } from 'vega-lite';
import { CliError } from '../errors.js';

/** One decode-attention timing of the CUDA bench's JSON (packages/kernels-cuda/bench/run.ts). */
interface AttentionRow {
  format: string;
  B: number;
  ctx: number;
  ms?: number;
}

/**
 * Speed-up over the PyTorch fp16 baseline vs context length, one line per preset and batch, from
 * the JSON the CUDA bench writes (`attention` rows and the `torch.sdpa` baseline of the same run).
 */
export function benchPlotSpec(results: unknown, source: string): TopLevelSpec {
  const r = results as {
    attention?: AttentionRow[];
    torch?: { sdpa?: AttentionRow[] };
    device?: { name?: string };
  };
  if (!Array.isArray(r?.attention) || !Array.isArray(r?.torch?.sdpa))
    throw new CliError(
      `${source}: not a kvq CUDA bench result (no "attention" and "torch.sdpa" arrays)`,
      'write one with `node packages/kernels-cuda/bench/dist/run.mjs torch.json bench.json` on the GPU machine',
    );
  const base = new Map(r.torch.sdpa.filter((x) => x.ms).map((x) => [`${x.B}/${x.ctx}`, x.ms!]));
  const values = r.attention
    .filter((x) => x.ms && base.has(`${x.B}/${x.ctx}`))
    .map((x) => ({
      preset: x.format,
      batch: `B=${x.B}`,
      context: x.ctx,
      speedup: base.get(`${x.B}/${x.ctx}`)! / x.ms!,
    }));
  if (values.length === 0)
    throw new CliError(`${source}: no attention timing has a PyTorch baseline to compare with`);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'Decode attention: speed-up over PyTorch SDPA fp16',
      subtitle: `${r.device?.name ?? 'GPU'} · ratios measured in one run`,
    },
    data: { values },
    facet: { column: { field: 'batch', type: 'nominal', title: null } },
    spec: {
      width: 320,
      height: 260,
      layer: [
        {
          mark: { type: 'line', point: true },
          encoding: {
            x: {
              field: 'context',
              type: 'quantitative',
              scale: { type: 'log', base: 2 },
              title: 'context (tokens)',
            },
            y: { field: 'speedup', type: 'quantitative', title: 'PyTorch time ÷ kvq time' },
            color: { field: 'preset', type: 'nominal' },
          },
        },
        { mark: { type: 'rule', strokeDash: [4, 4] }, encoding: { y: { datum: 1 } } },
      ],
    },
  } as TopLevelSpec;
}
