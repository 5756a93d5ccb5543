// The custom-decoder integration in ~20 lines (README.md): a decoder's attention over a kvq cache.
import { SeededRandom, createCache } from '@kvq/core';
import { KvqAttention } from '@kvq/decoder';

const layout = { layers: 4, queryHeads: 8, kvHeads: 2, headDim: 64 };
const cache = createCache({ layout, preset: 'k4v2' }); // 4-bit keys, 2-bit values
const attention = new KvqAttention(cache, { theta: 10000, dims: 64, style: 'neox' });
const rng = new SeededRandom(0);

for (let chunk = 0; chunk < 8; chunk++) {
  const T = 32; // tokens in this chunk
  for (let layer = 0; layer < layout.layers; layer++) {
    // your decoder's pre-RoPE projections of these tokens
    const q = rng.normalArray(T * 8 * 64); // [T, queryHeads, headDim]
    const k = rng.normalArray(T * 2 * 64); // [T, kvHeads, headDim]
    const v = rng.normalArray(T * 2 * 64);
    const out = attention.forward(layer, q, k, v, T); // [T, queryHeads, headDim]
  }
}
const { keys, values } = attention.reconstruct(0); // decompressed pre-RoPE K/V [256, 2, 64]
const s = cache.stats();
console.log(
  `${cache.length} tokens, ${s.bitsPerValue.toFixed(2)} bits/value, ${s.bytes} bytes (fp16: ${s.fp16Bytes})`,
);
