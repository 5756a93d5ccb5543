/** The perplexity-vs-bits chart (Chart.js scatter, one dataset per preset). */
import {
  Chart,
  Legend,
  LinearScale,
  LogarithmicScale,
  PointElement,
  ScatterController,
  Title,
  Tooltip,
} from 'chart.js';
import type { CompareResult } from '../engine/session.js';

Chart.register(ScatterController, PointElement, LinearScale, LogarithmicScale, Legend, Tooltip, Title);

const COLORS = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#bcbd22',
  '#17becf',
  '#393b79',
];

let chart: Chart<'scatter'> | null = null;

/**
 * Draws perplexity (y) against bits/value (x) of every preset of `result` into `canvas`, and sets
 * `data-points` on the canvas to the number of points drawn.
 */
export function drawPerplexityChart(canvas: HTMLCanvasElement, result: CompareResult): void {
  chart?.destroy();
  const rows = result.rows;
  chart = new Chart(canvas, {
    type: 'scatter',
    data: {
      datasets: rows.map((r, i) => ({
        label: `${r.name} (${r.bitsPerValue.toFixed(2)} b, ppl ${r.perplexity.toFixed(3)})`,
        data: [{ x: r.bitsPerValue, y: r.perplexity }],
        backgroundColor: COLORS[i % COLORS.length],
        borderColor: COLORS[i % COLORS.length],
        pointRadius: 7,
        pointHoverRadius: 9,
      })),
    },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      plugins: {
        title: {
          display: true,
          text: `Perplexity vs bits/value — ${result.tokens} tokens, ${result.windows} window(s), policy ${result.policy}`,
        },
        legend: { position: 'right' },
      },
      scales: {
        x: { type: 'linear', title: { display: true, text: 'bits per value (encoded blocks)' }, min: 0 },
        y: { type: 'linear', title: { display: true, text: 'perplexity' } },
      },
    },
  });
  canvas.dataset.points = String(rows.length);
}
