import {
  type EncodedBlock,
  type KVLayout,
  type PresetConfig,
  type Quantizer,
  SeededRandom,
  createQuantizer,
  layerQuantizers,
  linearCpu,
  presetBitsPerValue,
} from '@kvq/core';

/** One preset's CPU encode/decode throughput. */
export interface CpuThroughputRow {
  readonly preset: string;
  readonly bitsPerValue: number;
  /** MB of fp16 input (values × 2 bytes) per second */
  readonly encodeMBps: number;
  readonly decodeMBps: number;
  /** relative to the fp16 copy measured in the same run */
  readonly encodeVsCopy: number;
  readonly decodeVsCopy: number;
}

export interface CpuThroughputResult {
  readonly layout: KVLayout;
  readonly tokens: number;
  readonly blockTokens: number;
  /** fp16 bytes of the whole cache (keys and values of every layer) */
  readonly fp16Bytes: number;
  readonly copyMBps: number;
  /** AQUA predictors (one linear per layer for keys, one for values), MB of fp16 cache per second */
  readonly predictorMBps: number;
  readonly rows: readonly CpuThroughputRow[];
}

function kvLike(rng: SeededRandom, tokens: number, c: number): Float32Array {
  const x = rng.normalArray(tokens * c);
  for (let ch = 0; ch < c; ch += 17) for (let t = 0; t < tokens; t++) x[t * c + ch]! *= 6;
  return x;
}

/**
 * Encode/decode throughput of each preset's quantizers on a cache of `tokens` × layout, in blocks
 * of `blockTokens` (the cache's buffer), and the fp16 copy speed of the same bytes as the baseline
 * measured in the same run. One seeded layer of K/V is reused for every layer (the work per layer
 * is the same); AQUA predictors are timed separately (seeded random adapters of the layout's size).
 */
export function benchCpuThroughput(opts: {
  layout: KVLayout;
  tokens: number;
  presets: readonly PresetConfig[];
  blockTokens?: number;
  /** called before each preset is measured, with its index in `presets` */
  onPreset?: (name: string, index: number) => void;
}): CpuThroughputResult {
  const { layout, tokens, presets } = opts;
  const blockTokens = opts.blockTokens ?? 128;
  const c = layout.kvHeads * layout.headDim;
  const rng = new SeededRandom(2024);
  const keys = kvLike(rng, tokens, c);
  const values = rng.normalArray(tokens * c);
  const totalValues = tokens * c * 2 * layout.layers;
  const fp16Bytes = totalValues * 2;
  const mb = fp16Bytes / 1e6;

  // baseline: copy the fp16 cache once (layer by layer, like the encoders)
  const src = new Uint16Array(tokens * c * 2);
  for (let i = 0; i < src.length; i++) src[i] = (i * 2654435761) >>> 16;
  const dst = new Uint16Array(src.length);
  let t0 = performance.now();
  for (let rep = 0; rep < 3; rep++) for (let l = 0; l < layout.layers; l++) dst.set(src);
  const copyMBps = (3 * mb) / ((performance.now() - t0) / 1000);

  // AQUA predictors: keys [T, C]·[C, C]ᵀ and values [T, 2C]·[C, 2C]ᵀ for one layer, scaled to all layers
  const wk = rng.normalArray(c * c, 0, 0.02);
  const wv = rng.normalArray(2 * c * c, 0, 0.02);
  const predTokens = Math.min(tokens, 256);
  t0 = performance.now();
  linearCpu(keys.subarray(0, predTokens * c), predTokens, wk, c, c);
  linearCpu(new Float32Array(predTokens * 2 * c), predTokens, wv, 2 * c, c);
  const predSeconds = ((performance.now() - t0) / 1000) * (tokens / predTokens) * (layout.layers - 1);
  const predictorMBps = mb / predSeconds;

  const rows: CpuThroughputRow[] = [];
  for (const [index, preset] of presets.entries()) {
    opts.onPreset?.(preset.name, index);
    const encoded: { k: EncodedBlock; v: EncodedBlock; kq: Quantizer; vq: Quantizer }[] = [];
    let t = performance.now();
    for (let l = 0; l < layout.layers; l++) {
      const q = layerQuantizers(preset, l);
      const kq = createQuantizer(q.keys);
      const vq = createQuantizer(q.values);
      for (let tb = 0; tb < tokens; tb += blockTokens) {
        const n = Math.min(blockTokens, tokens - tb);
        const shape = { tokens: n, kvHeads: layout.kvHeads, headDim: layout.headDim };
        const k = kq.encode(keys.subarray(tb * c, (tb + n) * c), shape);
        const v = vq.encode(values.subarray(tb * c, (tb + n) * c), shape);
        encoded.push({ k, v, kq, vq });
      }
    }
    const encodeSeconds = (performance.now() - t) / 1000;
    const out = new Float32Array(blockTokens * c);
    t = performance.now();
    for (const b of encoded) {
      b.kq.decode(b.k, out.subarray(0, b.k.shape.tokens * c));
      b.vq.decode(b.v, out.subarray(0, b.v.shape.tokens * c));
    }
    const decodeSeconds = (performance.now() - t) / 1000;
    const encodeMBps = mb / encodeSeconds;
    const decodeMBps = mb / decodeSeconds;
    rows.push({
      preset: preset.name,
      bitsPerValue: presetBitsPerValue(preset, layout, blockTokens).bitsPerValue,
      encodeMBps,
      decodeMBps,
      encodeVsCopy: encodeMBps / copyMBps,
      decodeVsCopy: decodeMBps / copyMBps,
    });
  }
  return { layout, tokens, blockTokens, fp16Bytes, copyMBps, predictorMBps, rows };
}
