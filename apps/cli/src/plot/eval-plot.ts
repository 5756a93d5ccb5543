import type { TopLevelSpec } from 'vega-lite';
import type { EvalReport } from '../eval/report.js';

/**
 * Perplexity vs bits/value, one point per preset (labelled), fp16's perplexity as a horizontal
 * rule: the picture of `kvq eval`'s table.
 */
export function evalPlotSpec(report: EvalReport): TopLevelSpec {
  const rows = report.results.filter((r) => r.preset !== 'fp16' && r.preset !== 'fp32');
  const fp16 = report.results.find((r) => r.preset === 'fp16');
  const points = rows.map((r) => ({ preset: r.preset, bits: r.bitsPerValue, perplexity: r.perplexity }));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'Perplexity vs bits per value',
      subtitle: `${report.model.split('/').pop()} · ${report.protocol.windows} × ${report.ctx}-token windows (${report.tokens} predicted tokens) · ${report.protocol.name} protocol`,
    },
    width: 520,
    height: 320,
    layer: [
      {
        data: { values: points },
        mark: { type: 'point', filled: true, size: 80 },
        encoding: {
          x: {
            field: 'bits',
            type: 'quantitative',
            title: 'bits per value',
            scale: { zero: false, padding: 24 },
            axis: { format: '.3~f' },
          },
          y: {
            field: 'perplexity',
            type: 'quantitative',
            title: 'perplexity',
            scale: { zero: false, padding: 16 },
            axis: { format: '.3~f' },
          },
          color: { field: 'preset', type: 'nominal', legend: null },
          tooltip: [{ field: 'preset' }, { field: 'bits' }, { field: 'perplexity' }],
        },
      },
      {
        data: { values: points },
        mark: { type: 'text', dx: 8, align: 'left', baseline: 'middle' },
        encoding: {
          x: { field: 'bits', type: 'quantitative' },
          y: { field: 'perplexity', type: 'quantitative' },
          text: { field: 'preset' },
        },
      },
      ...(fp16
        ? [
            {
              data: {
                values: [{ perplexity: fp16.perplexity, label: `fp16 ${fp16.perplexity.toFixed(3)}` }],
              },
              mark: { type: 'rule' as const, strokeDash: [6, 4] },
              encoding: { y: { field: 'perplexity', type: 'quantitative' as const } },
            },
            {
              data: {
                values: [{ perplexity: fp16.perplexity, label: `fp16 ${fp16.perplexity.toFixed(3)}` }],
              },
              mark: { type: 'text' as const, align: 'left' as const, dy: -6, dx: 4, x: 0 },
              encoding: {
                y: { field: 'perplexity', type: 'quantitative' as const },
                text: { field: 'label', type: 'nominal' as const },
              },
            },
          ]
        : []),
    ],
  } as TopLevelSpec;
}
