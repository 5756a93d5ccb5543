import { extname } from 'node:path';
import { writeFileAtomic } from '@kvq/core/node';
import { Resvg } from '@resvg/resvg-js';
import { View, parse } from 'vega';
import { type TopLevelSpec, compile } from 'vega-lite';
import { CliError, EXIT } from '../errors.js';

/** The image formats `--plot` writes, by file extension. */
export const PLOT_FORMATS = ['.svg', '.png'] as const;

/** Fails (usage error, exit 2) when `path` does not end in a supported plot extension. */
export function checkPlotPath(path: string): void {
  const ext = extname(path).toLowerCase();
  if (!(PLOT_FORMATS as readonly string[]).includes(ext))
    throw new CliError(
      `--plot ${path}: unsupported image format "${ext || '(none)'}"`,
      'pass a file name ending in .svg or .png',
      EXIT.usage,
    );
}

/** Renders a Vega-Lite spec headless (no browser, no canvas) to SVG text, on a white background. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new View(parse(compile({ background: 'white', ...spec } as TopLevelSpec).spec), {
    renderer: 'none',
  });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/**
 * Rasterizes SVG text to PNG with resvg (a maintained Rust renderer shipped prebuilt through npm),
 * at `scale` × the SVG's size, with the system's fonts (text is drawn in the first sans-serif font
 * found; a machine without fonts gets the chart without its text).
 */
export function svgToPng(svg: string, scale = 2): Uint8Array {
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: scale },
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' },
  });
  return resvg.render().asPng();
}

/**
 * Renders a Vega-Lite spec to `path` (written atomically): SVG for `.svg`, PNG (2× scale) for `.png`.
 * Returns the SVG text.
 */
export async function writePlot(spec: TopLevelSpec, path: string): Promise<string> {
  checkPlotPath(path);
  const svg = await renderSvg(spec);
  const bytes = path.toLowerCase().endsWith('.png') ? svgToPng(svg) : new TextEncoder().encode(svg);
  await writeFileAtomic(path, bytes);
  return svg;
}
