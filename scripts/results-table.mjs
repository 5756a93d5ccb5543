// Turns a `kvq eval --json` file into the markdown table of the root README.
// Usage: node scripts/results-table.mjs results/eval-aqua-protocol.json
import { readFileSync } from 'node:fs';

const r = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const p = r.protocol;
console.log(
  `kvq-ref-35M (${r.model.split('/').pop()}), WikiText-2 test (${r.text.split('/').pop()}), ${p.windows} windows × ${r.ctx} tokens = ${r.tokens} predicted tokens per preset, protocol ${p.name} (${p.sinkTokens} fp16 sinks, fp16 buffer ${p.bufferTokens}, ${p.chunk}-token chunks, keys pre-RoPE), backend ${r.backend}. Command: \`${r.command.replace(/ --no-progress| --json \S+/g, '')}\`\n`,
);
console.log(
  '| preset | bits/value | stored bits/value | bits K | bits V | perplexity | Δ vs fp16 | KL | top-1 | KV bytes vs fp16 |',
);
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const x of r.results) {
  console.log(
    `| \`${x.preset}\` | ${x.bitsPerValue.toFixed(3)} | ${x.storedBitsPerValue.toFixed(3)} | ${x.bitsK.toFixed(3)} | ${x.bitsV.toFixed(3)} | ${x.perplexity.toFixed(3)} | ${x.relPerplexity >= 0 ? '+' : ''}${(100 * x.relPerplexity).toFixed(2)}% | ${x.kl.toFixed(5)} | ${(100 * x.top1).toFixed(2)}% | ${((100 * x.kvBytes) / x.fp16KvBytes).toFixed(1)}% |`,
  );
}
