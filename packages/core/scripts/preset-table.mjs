// Prints the preset table of packages/core/README.md: exact bits/value of every built-in preset
// for a layout (default: kvq-ref-35M, 12 layers × 2 KV heads × 64 dims), from the built package.
// Usage: node packages/core/scripts/preset-table.mjs [layers kvHeads headDim]
import { listPresets, presetBitsPerValue } from '../dist/index.js';

const [layers = 12, kvHeads = 2, headDim = 64] = process.argv.slice(2).map(Number);
const layout = { layers, queryHeads: kvHeads * 4, kvHeads, headDim };
console.log('| preset | predictor | bits K | bits V | bits/value | description |');
console.log('| --- | --- | ---: | ---: | ---: | --- |');
for (const p of listPresets()) {
  const b = presetBitsPerValue(p, layout);
  console.log(
    `| \`${p.name}\` | ${p.predictor} | ${b.bitsK.toFixed(3)} | ${b.bitsV.toFixed(3)} | ${b.bitsPerValue.toFixed(3)} | ${p.description} |`,
  );
}
