import { writeFileAtomic } from '@kvq/core/node';
import { View, parse } from 'vega';
import { type TopLevelSpec, compile } from 'vega-lite';
import { CliError } from '../errors.js';

/**
 * Renders a Vega-Lite spec headless (no browser, no canvas) to an SVG file, written atomically.
 * Only `.svg` is supported: PNG would need a native canvas, which this package does not take on.
 */
export async function writePlot(spec: TopLevelSpec, path: string): Promise<string> {
  if (!path.toLowerCase().endsWith('.svg'))
    throw new CliError(`--plot ${path}: only .svg output is supported`, 'pass a file name ending in .svg');
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    await writeFileAtomic(path, new TextEncoder().encode(svg));
    return svg;
  } finally {
    view.finalize();
  }
}
