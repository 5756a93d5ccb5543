// Does Dawn expose subgroup matrices (Vulkan cooperative matrices) on this adapter? Lists the
// adapter's features and i8/u8/f16/f32 subgroup-matrix shapes, multiplies each once against a CPU
// product, and times 4096 multiply-accumulates per subgroup (TOPS, including the submit).
// Run: node packages/kernels-webgpu/bench/subgroup-matrix-probe.mjs (after `node bench/build.mjs`
// on a machine without node_modules: it then loads Dawn from <repo>/.webgpu-bench).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
const require = createRequire(import.meta.url);
const bundled = join(dirname(fileURLToPath(import.meta.url)), '../../../.webgpu-bench/node_modules/webgpu');
const { create, globals } = require(existsSync(bundled) ? bundled : 'webgpu');
Object.assign(globalThis, globals);
// KVQ_DAWN_FLAGS: extra Dawn flags, `;`-separated (e.g. `enable-dawn-features=allow_unsafe_apis,vulkan_enable_f16_on_nvidia`)
const gpu = create(
  (process.env.KVQ_DAWN_FLAGS ?? 'enable-dawn-features=allow_unsafe_apis').split(';').filter(Boolean),
);
const a = await gpu.requestAdapter();
const info = a.info;
console.log(
  'adapter',
  info.vendor,
  info.architecture,
  info.description,
  'sg',
  info.subgroupMinSize,
  info.subgroupMaxSize,
);
console.log('features', [...a.features].sort().join(' '));
const cfgs = [...(info.subgroupMatrixConfigs ?? [])].map((c) => ({
  t: c.componentType,
  r: c.resultComponentType,
  M: c.M,
  N: c.N,
  K: c.K,
}));
console.log('configs', JSON.stringify(cfgs));
const want = ['subgroups', 'chromium-experimental-subgroup-matrix', 'shader-f16', 'timestamp-query'].filter(
  (f) => a.features.has(f),
);
const dev = await a.requestDevice({
  requiredFeatures: want,
  requiredLimits: {
    maxStorageBufferBindingSize: a.limits.maxStorageBufferBindingSize,
    maxBufferSize: a.limits.maxBufferSize,
  },
});
dev.addEventListener?.('uncapturederror', (e) => console.log('uncaptured', e.error.message));
const rows = [];
async function run(code, bufs, groups, label) {
  dev.pushErrorScope('validation');
  const mod = dev.createShaderModule({ code });
  const ci = await mod.getCompilationInfo();
  for (const m of ci.messages)
    if (m.type === 'error') {
      console.log(label, 'compile', m.message);
    }
  const pipe = dev.createComputePipeline({ layout: 'auto', compute: { module: mod, entryPoint: 'main' } });
  const bg = dev.createBindGroup({
    layout: pipe.getBindGroupLayout(0),
    entries: bufs.map((b, i) => ({ binding: i, resource: { buffer: b } })),
  });
  const run1 = async () => {
    const enc = dev.createCommandEncoder();
    const p = enc.beginComputePass();
    p.setPipeline(pipe);
    p.setBindGroup(0, bg);
    p.dispatchWorkgroups(groups);
    p.end();
    const t0 = performance.now();
    dev.queue.submit([enc.finish()]);
    await dev.queue.onSubmittedWorkDone();
    return performance.now() - t0;
  };
  await run1();
  const ts = [];
  for (let i = 0; i < 5; i++) ts.push(await run1());
  const err = await dev.popErrorScope();
  if (err) console.log(label, 'error', err.message);
  return ts.sort((x, y) => x - y)[2];
}
async function readBuf(b, n) {
  const r = dev.createBuffer({ size: n, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const e = dev.createCommandEncoder();
  e.copyBufferToBuffer(b, 0, r, 0, n);
  dev.queue.submit([e.finish()]);
  await r.mapAsync(GPUMapMode.READ);
  const out = r.getMappedRange().slice(0);
  r.unmap();
  return out;
}
const SB = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
for (const c of cfgs) {
  if (!['i8', 'u8', 'f16', 'f32'].includes(c.t)) continue;
  if (c.t === 'f16' && !a.features.has('shader-f16')) {
    console.log('skip f16 (no shader-f16)', JSON.stringify(c));
    continue;
  }
  const { M, N, K } = c;
  const byte = c.t === 'i8' || c.t === 'u8';
  const sT = byte ? (c.t === 'i8' ? 'i32' : 'u32') : c.t;
  const rT = c.r === 'i8' || c.r === 'u8' ? (c.r === 'i8' ? 'i32' : 'u32') : c.r;
  const esz = byte ? 1 : c.t === 'f16' ? 2 : 4;
  const A = Array.from({ length: M * K }, (_, i) => ((i * 7 + 3) % 5) - (c.t === 'u8' ? 0 : 2));
  const B = Array.from({ length: K * N }, (_, i) => ((i * 11 + 1) % 7) - (c.t === 'u8' ? 0 : 3));
  const enc = (vals) => {
    if (byte) {
      const u = new Uint8Array(Math.ceil(vals.length / 4) * 4);
      vals.forEach((v, i) => {
        u[i] = v & 255;
      });
      return u;
    }
    if (c.t === 'f32') return new Float32Array(vals);
    const u = new Uint16Array(vals.length + (vals.length % 2));
    vals.forEach((v, i) => {
      const f = new Float32Array([v]);
      const x = new Uint32Array(f.buffer)[0];
      u[i] = v === 0 ? 0 : ((x >>> 16) & 0x8000) | ((((x >>> 23) & 255) - 112) << 10) | ((x >>> 13) & 1023);
    });
    return u;
  };
  const mk = (data) => {
    const b = dev.createBuffer({ size: Math.max(16, data.byteLength), usage: SB });
    dev.queue.writeBuffer(b, 0, data);
    return b;
  };
  const ab = mk(enc(A));
  const bb = mk(enc(B));
  const ob = dev.createBuffer({ size: M * N * 4 + 16, usage: SB });
  const f16e = c.t === 'f16' || c.r === 'f16' ? 'enable f16;' : '';
  const code = `${f16e}enable subgroups; enable chromium_experimental_subgroup_matrix;
@group(0) @binding(0) var<storage, read> A: array<${sT}>;
@group(0) @binding(1) var<storage, read> B: array<${sT}>;
@group(0) @binding(2) var<storage, read_write> O: array<${rT}>;
@compute @workgroup_size(32) fn main() {
  let l = subgroupMatrixLoad<subgroup_matrix_left<${c.t}, ${K}, ${M}>>(&A, 0u, false, ${K}u);
  let r = subgroupMatrixLoad<subgroup_matrix_right<${c.t}, ${N}, ${K}>>(&B, 0u, false, ${N}u);
  let o = subgroupMatrixMultiply<${c.r}>(l, r);
  subgroupMatrixStore(&O, 0u, o, false, ${N}u);
}`;
  try {
    await run(code, [ab, bb, ob], 1, JSON.stringify(c));
    const out =
      byte && (c.r === 'i8' || c.r === 'u8')
        ? null
        : c.r === 'f32'
          ? new Float32Array(await readBuf(ob, M * N * 4))
          : c.r === 'i32'
            ? new Int32Array(await readBuf(ob, M * N * 4))
            : c.r === 'u32'
              ? new Uint32Array(await readBuf(ob, M * N * 4))
              : null;
    let bad = 0;
    if (out)
      for (let i = 0; i < M; i++)
        for (let j = 0; j < N; j++) {
          let s = 0;
          for (let k = 0; k < K; k++) s += A[i * K + k] * B[k * N + j];
          if (Math.abs(out[i * N + j] - s) > 1e-3) bad++;
        }
    console.log('config', JSON.stringify(c), out ? `mismatches ${bad}/${M * N}` : 'not checked');
    // throughput: 1056 workgroups x 4 subgroups x 4096 MMAs
    const IT = 4096;
    const tcode = `${f16e}enable subgroups; enable chromium_experimental_subgroup_matrix;
@group(0) @binding(0) var<storage, read> A: array<${sT}>;
@group(0) @binding(1) var<storage, read> B: array<${sT}>;
@group(0) @binding(2) var<storage, read_write> O: array<${rT}>;
@compute @workgroup_size(128) fn main() {
  let l = subgroupMatrixLoad<subgroup_matrix_left<${c.t}, ${K}, ${M}>>(&A, 0u, false, ${K}u);
  let r = subgroupMatrixLoad<subgroup_matrix_right<${c.t}, ${N}, ${K}>>(&B, 0u, false, ${N}u);
  var o0 = subgroup_matrix_result<${c.r}, ${N}, ${M}>(); var o1 = o0; var o2 = o0; var o3 = o0;
  for (var i = 0u; i < ${IT / 4}u; i++) { o0 = subgroupMatrixMultiplyAccumulate(l, r, o0); o1 = subgroupMatrixMultiplyAccumulate(l, r, o1); o2 = subgroupMatrixMultiplyAccumulate(l, r, o2); o3 = subgroupMatrixMultiplyAccumulate(l, r, o3); }
  subgroupMatrixStore(&O, 0u, o0, false, ${N}u); subgroupMatrixStore(&O, 0u, o1, false, ${N}u); subgroupMatrixStore(&O, 0u, o2, false, ${N}u); subgroupMatrixStore(&O, 0u, o3, false, ${N}u);
}`;
    const ms = await run(tcode, [ab, bb, ob], 1056, 'tput');
    const ops = 2 * M * N * K * IT * 4 * 1056;
    console.log(`  throughput ${(ops / ms / 1e9).toFixed(1)} TOPS (${ms.toFixed(3)} ms incl. submit)`);
    rows.push(
      `${c.t}->${c.r} ${M}x${N}x${K}: ${out ? `mism ${bad}` : '-'}; ${(ops / ms / 1e9).toFixed(0)} TOPS`,
    );
  } catch (e) {
    console.log('config', JSON.stringify(c), 'failed', e.message);
    rows.push(`${c.t}->${c.r} ${M}x${N}x${K}: failed`);
  }
}
// Plain ALU throughput: f32 FMA vs packed f16 FMA (vec2<f16>, vec4<f16>), 8 independent chains per thread.
{
  const alu = [['f32', 'f32', 1]];
  if (dev.features.has('shader-f16')) alu.push(['vec2<f16>', 'vec2<f16>', 2], ['vec4<f16>', 'vec4<f16>', 4]);
  const ob = dev.createBuffer({ size: 1 << 22, usage: SB });
  const IT = Number(process.env.KVQ_ALU_ITERS ?? 2048);
  for (const [name, T, lanes] of alu) {
    const f16e = T.includes('f16') ? 'enable f16;' : '';
    const S = T.includes('f16') ? 'f16' : 'f32';
    const lane = (e, step) =>
      `${T}(${Array.from({ length: lanes }, (_, i) => `${S}(${e} + ${i * step})`).join(', ')})`;
    const code = `${f16e}
@group(0) @binding(0) var<storage, read_write> O: array<f32>;
@compute @workgroup_size(256) fn main(@builtin(global_invocation_id) g: vec3u) {
  // lanes differ (equal lanes could be computed once)
  let x = ${lane('0.001 * f32(g.x & 7u)', 0.0001)};
  let y = ${lane('0.5', 0.01)};
  var a0 = ${lane('1e-3 * f32(g.x & 255u)', 0.1)}; var a1 = a0 + y; var a2 = a1 + y; var a3 = a2 + y;
  var a4 = a3 + y; var a5 = a4 + y; var a6 = a5 + y; var a7 = a6 + y;
  for (var i = 0u; i < ${IT}u; i++) {
    a0 = fma(a0, x, y); a1 = fma(a1, x, y); a2 = fma(a2, x, y); a3 = fma(a3, x, y);
    a4 = fma(a4, x, y); a5 = fma(a5, x, y); a6 = fma(a6, x, y); a7 = fma(a7, x, y);
  }
  let s = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
  O[g.x & 0xfffffu] = f32(${lanes === 1 ? 's' : 's.x'});
}`;
    try {
      const groups = Number(process.env.KVQ_ALU_GROUPS ?? 132 * 64);
      const ms = await run(code, [ob], groups, name);
      const flops = 2 * 8 * IT * lanes * 256 * groups;
      console.log(`alu ${name}: ${(flops / ms / 1e9).toFixed(1)} TFLOPS (${ms.toFixed(3)} ms incl. submit)`);
      rows.push(`alu fma ${name}: ${(flops / ms / 1e9).toFixed(0)} TFLOPS`);
    } catch (e) {
      console.log('alu', name, 'failed', e.message);
      rows.push(`alu fma ${name}: failed`);
    }
  }
}
console.log('---');
console.log('shader-f16', dev.features.has('shader-f16'));
for (const r of rows) console.log(r);
