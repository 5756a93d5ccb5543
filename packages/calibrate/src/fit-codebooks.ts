import {
  CodebookQuantizer,
  type CodebookSpec,
  InvalidArgumentError,
  type KVLayout,
  type PresetConfig,
  type QuantizerSpec,
  SeededRandom,
  channels,
  fitCodebook,
} from '@kvq/core';
import type { RecordedKV } from './fit-aqua.js';

/** Options of {@link fitPresetCodebooks}. */
export interface FitCodebooksOptions {
  readonly layout: KVLayout;
  /** tokens per block, as the cache compresses them (default 128) */
  readonly blockTokens?: number;
  /** at most this many normalized samples per codebook (seeded subsample; default 2^18) */
  readonly maxSamples?: number;
}

/** Zeroes the `count` largest-magnitude values of each token (what the outlier wrapper keeps apart). */
function zeroTokenOutliers(x: Float32Array, tokens: number, c: number, count: number): Float32Array {
  const out = x.slice();
  const idx = new Int32Array(c);
  for (let t = 0; t < tokens; t++) {
    const row = out.subarray(t * c, (t + 1) * c);
    for (let i = 0; i < c; i++) idx[i] = i;
    const order = Array.from(idx).sort((a, b) => Math.abs(row[b]!) - Math.abs(row[a]!));
    for (let k = 0; k < Math.min(count, c); k++) row[order[k]!] = 0;
  }
  return out;
}

/** The codebook spec a quantizer spec uses (itself, or the inner of an outlier wrapper), and the outlier count. */
function codebookOf(
  spec: QuantizerSpec,
): { cb: CodebookSpec; outliers: number; axis: 'token' | 'channel' } | null {
  if (spec.kind === 'codebook') return { cb: spec, outliers: 0, axis: 'token' };
  if (spec.kind === 'outliers' && spec.inner.kind === 'codebook')
    return { cb: spec.inner, outliers: spec.count, axis: spec.axis };
  return null;
}

function withCodebook(spec: QuantizerSpec, levels: number[]): QuantizerSpec {
  if (spec.kind === 'codebook') return { ...spec, codebook: levels };
  if (spec.kind === 'outliers' && spec.inner.kind === 'codebook')
    return { ...spec, inner: { ...spec.inner, codebook: levels } };
  return spec;
}

/**
 * QAQ-style separate key and value codebooks fitted on recorded K/V: every codebook quantizer of
 * the preset (also inside an outlier wrapper) gets Lloyd-Max levels fitted to the values it will
 * see — each block normalized by its group scale (and mean), outliers removed — pooled over all
 * layers, one codebook for keys and one for values. Returns the preset with `codebook` filled.
 */
export function fitPresetCodebooks(
  recorded: RecordedKV,
  preset: PresetConfig,
  opts: FitCodebooksOptions,
): PresetConfig {
  const { layout } = opts;
  const c = channels(layout);
  const blockTokens = opts.blockTokens ?? 128;
  const maxSamples = opts.maxSamples ?? 1 << 18;
  const fit = (spec: QuantizerSpec, data: readonly Float32Array[]): QuantizerSpec => {
    const info = codebookOf(spec);
    if (!info) return spec;
    if (info.outliers > 0 && info.axis !== 'token') {
      throw new InvalidArgumentError(
        'fitPresetCodebooks: only per-token outliers are supported when fitting codebooks',
      );
    }
    const q = new CodebookQuantizer({ ...info.cb, codebook: undefined });
    const parts: Float32Array[] = [];
    let n = 0;
    for (const x of data) {
      for (let t0 = 0; t0 + blockTokens <= recorded.tokens; t0 += blockTokens) {
        let block = x.subarray(t0 * c, (t0 + blockTokens) * c);
        if (info.outliers > 0) block = zeroTokenOutliers(block, blockTokens, c, info.outliers);
        const z = q.normalize(block, {
          tokens: blockTokens,
          kvHeads: layout.kvHeads,
          headDim: layout.headDim,
        });
        parts.push(z);
        n += z.length;
      }
    }
    if (n === 0)
      throw new InvalidArgumentError(`fitPresetCodebooks: fewer than ${blockTokens} recorded tokens`);
    const rng = new SeededRandom(0xc0deb00c);
    const take = Math.min(n, maxSamples);
    const samples = new Float32Array(take);
    const all = new Float32Array(n);
    let off = 0;
    for (const p of parts) {
      all.set(p, off);
      off += p.length;
    }
    for (let i = 0; i < take; i++) samples[i] = take === n ? all[i]! : all[Math.floor(rng.next() * n)]!;
    return withCodebook(spec, fitCodebook(samples, info.cb.bits).levels);
  };
  const fitPair = (q: PresetConfig['quantizers']) => ({
    keys: fit(q.keys, recorded.keys),
    values: fit(q.values, recorded.values),
  });
  return {
    ...preset,
    name: `${preset.name}-fit`,
    description: `${preset.description}; codebooks fitted on ${recorded.tokens} recorded tokens`,
    quantizers: fitPair(preset.quantizers),
    ...(preset.attentionAware
      ? {
          attentionAware: { ...preset.attentionAware, quantizers: fitPair(preset.attentionAware.quantizers) },
        }
      : {}),
  };
}
