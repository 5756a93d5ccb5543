/**
 * The attention benchmark's K/V configurations and its tuning-variant letters, shared by
 * bench/device.ts and bench/pipeline-stats.ts.
 */
import { type QuantizerSpec, higgsUnbiasedGain } from '@kvq/core';
import type { DecodeAttentionOptions } from '../src/index.js';

export const u = (bits: number, axis: 'channel' | 'token', groupSize: number): QuantizerSpec => ({
  kind: 'uniform',
  bits,
  axis,
  groupSize,
});
export const F16: QuantizerSpec = { kind: 'fp16' };
export const FP8: QuantizerSpec = { kind: 'fp8', format: 'e4m3' };
/** A HIGGS spec as @kvq/core's presets build it (Hadamard block 128, slope-unbiased scale gain). */
export const higgs = (bits: number, seed: number): QuantizerSpec => {
  const dim = bits === 1 || bits > 3 ? 1 : 2;
  return {
    kind: 'higgs',
    bits,
    dim,
    block: 128,
    seed,
    scaleGain: Math.round(higgsUnbiasedGain(bits, dim) * 1e6) / 1e6,
  };
};
/** One K/V configuration of the attention benchmark. */
export interface BenchMethod {
  name: string;
  k: QuantizerSpec;
  v: QuantizerSpec;
  kernel?: 'lane' | 'token' | 'mma' | 'subgroup';
  /**
   * packed-f16 arithmetic of the token-parallel kernel (where the device has shader-f16); the other
   * rows ask for f32 (DecodeAttention's default, 'auto', picks f16 for large steps on such devices)
   */
  f16?: boolean;
}
/** K/V configurations of the attention benchmark (`kernel: 'lane'` forces the original kernel). */
export const METHODS: BenchMethod[] = [
  { name: 'fp16', k: F16, v: F16 },
  { name: 'fp8', k: FP8, v: FP8 },
  { name: 'kivi-2', k: u(2, 'channel', 128), v: u(2, 'token', 128) },
  { name: 'kivi-2 lane', k: u(2, 'channel', 128), v: u(2, 'token', 128), kernel: 'lane' },
  // the int8 subgroup-matrix kernel (where the device has it)
  { name: 'kivi-2 mma', k: u(2, 'channel', 128), v: u(2, 'token', 128), kernel: 'mma' },
  // (token-parallel asked for: DecodeAttention's default is the subgroup kernel for large f16 steps)
  { name: 'kivi-2 f16', k: u(2, 'channel', 128), v: u(2, 'token', 128), kernel: 'token', f16: true },
  { name: 'k4v2', k: u(4, 'channel', 128), v: u(2, 'token', 128) },
  { name: 'k4v2 f16', k: u(4, 'channel', 128), v: u(2, 'token', 128), kernel: 'token', f16: true },
  { name: 'k4v2 mma', k: u(4, 'channel', 128), v: u(2, 'token', 128), kernel: 'mma' },
  { name: 'k3v2', k: u(3, 'channel', 128), v: u(2, 'token', 128) },
  // aqua-2.5's predicted layers (HIGGS residuals K 2.5-bit / V 2-bit 2-D grids) and kvq-2's most common width
  { name: 'aqua-2.5', k: higgs(2.5, 0x6b), v: higgs(2, 0x76) },
  { name: 'kvq-2 K2/V2', k: higgs(2, 0x6b), v: higgs(2, 0x76) },
  // (token-parallel asked for: DecodeAttention's default is the subgroup kernel for large f16 HIGGS steps)
  { name: 'aqua-2.5 f16', k: higgs(2.5, 0x6b), v: higgs(2, 0x76), kernel: 'token', f16: true },
  { name: 'kvq-2 K2/V2 f16', k: higgs(2, 0x6b), v: higgs(2, 0x76), kernel: 'token', f16: true },
  // DecodeAttention's own choice (the subgroup kernel from B·kvHeads·tokens ≥ 2^19, else token-parallel)
  { name: 'aqua-2.5 f16 default', k: higgs(2.5, 0x6b), v: higgs(2, 0x76), f16: true },
  { name: 'kvq-2 K2/V2 f16 default', k: higgs(2, 0x6b), v: higgs(2, 0x76), f16: true },
  { name: 'kivi-2 f16 default', k: u(2, 'channel', 128), v: u(2, 'token', 128), f16: true },
  { name: 'k4v2 f16 default', k: u(4, 'channel', 128), v: u(2, 'token', 128), f16: true },
  // the subgroup-private kernel (f32, no workgroup barriers in the tile loop)
  { name: 'aqua-2.5 sg', k: higgs(2.5, 0x6b), v: higgs(2, 0x76), kernel: 'subgroup' },
  { name: 'kvq-2 K2/V2 sg', k: higgs(2, 0x6b), v: higgs(2, 0x76), kernel: 'subgroup' },
  { name: 'aqua-2.5 sg f16', k: higgs(2.5, 0x6b), v: higgs(2, 0x76), kernel: 'subgroup', f16: true },
  { name: 'kvq-2 K2/V2 sg f16', k: higgs(2, 0x6b), v: higgs(2, 0x76), kernel: 'subgroup', f16: true },
  // the subgroup kernel over uniform K/V (packed f16 only; the default for large f16 steps)
  { name: 'kivi-2 sg f16', k: u(2, 'channel', 128), v: u(2, 'token', 128), kernel: 'subgroup', f16: true },
  { name: 'k4v2 sg f16', k: u(4, 'channel', 128), v: u(2, 'token', 128), kernel: 'subgroup', f16: true },
];

/** One tuning variant of a method: DecodeAttention options beyond the method's own. */
export interface BenchVariant {
  noSubgroups: boolean;
  tpt?: number;
  tiles?: number;
  tune?: Record<string, number | boolean>;
  optional?: boolean;
}

/**
 * A variant from its letters, `+` joining knobs: f16 flush every 8 key pairs (k8), value batches of 4
 * tokens (b4), tokens per thread (t1), channels per thread (c8), tiles per chunk (w16), loads at the
 * start of the tile (e), probes (p1); subgroup kernel: cooperative value loads (c alone), value token
 * groups (g4), value batches (b16), 8-byte aligned key rows as vec4 (v; v0 off); HIGGS codes cut by %
 * (m; m0 off), the next tile's key rows loaded during this one (n; n0 off).
 */
export function parseVariant(letters: string, kernel: DecodeAttentionOptions['kernel']): BenchVariant {
  const x: BenchVariant = { noSubgroups: false, optional: true };
  const tune: Record<string, number | boolean> = {};
  for (const k of letters.split('+')) {
    const n = Number(k.slice(1));
    if (k[0] === 't') x.tpt = n;
    else if (k[0] === 'w') x.tiles = n;
    else if (k === 'e') tune.early = true;
    else if (k[0] === 'b' && kernel === 'subgroup') tune.sgVbatch = n;
    else if (k[0] === 'p') tune.probe = n;
    else if (k === 'c') tune.sgVcoop = true;
    else if (k[0] === 'g' && kernel === 'subgroup') tune.sgVgroups = n;
    else if ((k === 'v' || k === 'v0') && kernel === 'subgroup') tune.sgKpair = k === 'v';
    else if (k === 'm' || k === 'm0') tune.modIndex = k === 'm';
    else if ((k === 'n' || k === 'n0') && kernel === 'subgroup') tune.sgKprefetch = k === 'n';
    else if (k[0] === 'k' || k[0] === 'b' || k[0] === 'c')
      tune[{ k: 'kflush', b: 'vbatch', c: 'cpt' }[k[0] as 'k' | 'b' | 'c']] = n;
    else throw new Error(`unknown variant letter ${JSON.stringify(k)} in ${JSON.stringify(letters)}`);
  }
  if (Object.keys(tune).length > 0) x.tune = tune;
  return x;
}

/** The `DecodeAttention` options of method `m` in variant `v`. */
export function variantOptions(
  m: BenchMethod,
  v: Omit<BenchVariant, 'tune'> & { tune?: DecodeAttentionOptions['tuning'] },
): DecodeAttentionOptions {
  return {
    noSubgroups: v.noSubgroups,
    ...(m.kernel ? { kernel: m.kernel } : {}),
    ...(v.tpt ? { tokensPerThread: v.tpt } : {}),
    arithmetic: m.f16 ? 'f16' : 'f32',
    ...(v.tune ? { tuning: v.tune } : {}),
    ...(v.tiles ? { tilesPerChunk: v.tiles } : {}),
  };
}
