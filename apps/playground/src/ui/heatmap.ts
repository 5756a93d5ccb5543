/** The per-layer heat map of key and value reconstruction error (an HTML table of coloured cells). */
import type { CompareResult } from '../engine/session.js';
import { sci } from './format.js';

/** A colour from blue (low) through yellow to red (high) for t in [0, 1]. */
function color(t: number): string {
  const h = 240 - 240 * Math.min(1, Math.max(0, t));
  return `hsl(${h.toFixed(0)} 80% 55%)`;
}

/**
 * Renders, for the presets other than fp16, two tables (keys, values) of log-scaled relative MSE
 * per layer into `root`. Each cell carries `data-value` (the relative MSE) and a tooltip.
 */
export function drawHeatmap(root: HTMLElement, result: CompareResult): void {
  root.replaceChildren();
  const rows = result.rows.filter((r) => r.name !== 'fp16');
  const logs: number[] = [];
  for (const r of rows)
    for (const l of r.layers)
      for (const v of [l.keys, l.values]) if (v > 0 && Number.isFinite(v)) logs.push(Math.log10(v));
  const lo = logs.length ? Math.min(...logs) : 0;
  const hi = logs.length ? Math.max(...logs) : 1;
  const layers = rows[0]?.layers.length ?? 0;
  for (const kind of ['keys', 'values'] as const) {
    const table = document.createElement('table');
    table.className = 'heatmap';
    table.dataset.kind = kind;
    const cap = table.createCaption();
    cap.textContent = `${kind === 'keys' ? 'Keys' : 'Values'}: relative MSE per layer, Σ(rec − true)² / Σ true² (tokens after the fp16 sinks)`;
    const head = table.createTHead().insertRow();
    head.insertCell().textContent = 'preset';
    for (let l = 0; l < layers; l++) head.insertCell().textContent = `L${l}`;
    const body = table.createTBody();
    for (const r of rows) {
      const tr = body.insertRow();
      tr.insertCell().textContent = r.name;
      for (const l of r.layers) {
        const v = l[kind];
        const td = tr.insertCell();
        td.className = 'cell';
        td.dataset.value = String(v);
        const t = v > 0 && hi > lo ? (Math.log10(v) - lo) / (hi - lo) : 0;
        td.style.background = Number.isFinite(v) ? color(t) : '#ccc';
        td.title = `${r.name}, layer ${l.layer}, ${kind}: ${sci(v)}`;
        td.textContent = sci(v);
      }
    }
    root.append(table);
  }
  const legend = document.createElement('p');
  legend.className = 'legend';
  legend.innerHTML = `colour: log₁₀ relative MSE from <span style="background:${color(0)}">${sci(10 ** lo)}</span> to <span style="background:${color(1)}">${sci(10 ** hi)}</span>`;
  root.append(legend);
}
