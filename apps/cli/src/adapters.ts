import { findBundledAdapters } from '@kvq/calibrate/node';
import { AdapterMismatchError, type AquaAdapters, type KVLayout, getPreset } from '@kvq/core';
import { loadAdapters } from '@kvq/core/node';
import { CliError, EXIT } from './errors.js';
import { isFile } from './inputs.js';

/**
 * The AQUA-KV adapters a command needs for `preset`: none for presets without the AQUA predictor;
 * else `explicit` (`--adapters`), else the file @kvq/calibrate ships for `model`. Loaded adapters
 * are checked against the layout, the model and the preset they were fitted for (AdapterMismatchError,
 * exit 3). Returns the file too.
 */
export async function resolveAdapters(opts: {
  preset: string;
  model?: string;
  layout?: KVLayout;
  explicit?: string;
}): Promise<{ adapters: AquaAdapters; path: string } | undefined> {
  if (getPreset(opts.preset).predictor !== 'aqua') return undefined;
  const path = opts.explicit ?? (opts.model ? findBundledAdapters(opts.model, opts.preset) : undefined);
  if (!path)
    throw new CliError(
      `preset ${opts.preset} needs AQUA-KV adapters and none ship for ${opts.model ? `model "${opts.model}"` : 'this input'}`,
      'fit some with `kvq calibrate` and pass --adapters <file>',
    );
  if (!isFile(path))
    throw new CliError(
      `adapter file not found: ${path}`,
      'pass --adapters <file> from `kvq calibrate`',
      EXIT.input,
    );
  const adapters = await loadAdapters(path, {
    ...(opts.layout ? { layout: opts.layout } : {}),
    ...(opts.model ? { model: { name: opts.model } } : {}),
  });
  // adapters are fitted on one preset's quantization residuals: another preset's would decode wrongly
  const fitted = adapters.calibration?.preset;
  if (typeof fitted === 'string' && fitted !== opts.preset)
    throw new AdapterMismatchError(
      `${path}: adapters fitted for preset "${fitted}", used with preset "${opts.preset}"`,
    );
  return { adapters, path };
}
