// Entry of the GPU test bundle: the package's vitest files, run through vitest-shim on the GPU machine.
import '../test/no-gpu.test.js';
import '../test/conformance.test.js';
import '../test/memory.test.js';
import '../test/decode-attention.test.js';
import '../test/grid-quantizers.test.js';
import '../test/aqua-predictor.test.js';
import '../test/value-chain.test.js';
import { writeFileSync } from 'node:fs';
import { runAll } from './vitest-shim.js';

const r = await runAll();
console.log(`GPU TESTS: ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped`);
if (process.env.OUT) writeFileSync(`${process.env.OUT}/gpu-tests.json`, JSON.stringify(r, null, 1));
process.exitCode = r.failed ? 1 : 0;
