/**
 * Scratch bench (not shipped): the token-parallel decode-attention kernel in pieces and variants,
 * to find where its time goes on a device. `node bench/build.mjs && node .webgpu-bench/probe.mjs
 * [--only kivi-2,aqua-2.5] [--shapes 16x32768,1x32768] [--set ladder|tune] [--out file.json]`.
 * Probe levels (DecodeAttention `tuning.probe`): 1 = load the codes only, 2 = + key dots, 3 = +
 * softmax, 0 = the full kernel (values too). Full variants report their max abs difference from
 * the default kernel's output (relative to the largest output).
 */
import { writeFileSync } from 'node:fs';
import { SeededRandom } from '@kvq/core';
import {
  BufferScope,
  DecodeAttention,
  type DecodeAttentionOptions,
  type GpuContext,
  GpuKvTensor,
  Recorder,
  createGpuContext,
  grid,
  recordEncode,
} from '../src/index.js';
import { genWgsl } from './gen.wgsl.js';
import { higgs, u } from './methods.js';
import { timeRecorded } from './timing.js';

const args = process.argv.slice(2);
const arg = (k: string) => (args.includes(k) ? args[args.indexOf(k) + 1] : undefined);
const outPath = arg('--out') ?? 'webgpu-probe.json';
const only = arg('--only')?.split(',');
const set = arg('--set') ?? 'ladder';
const shapes = (arg('--shapes') ?? '16x32768,1x32768').split(',').map((s) => {
  const [B, N] = s.split('x').map(Number);
  return { B: B!, N: N! };
});
const METHODS = [
  { name: 'kivi-2', k: u(2, 'channel', 128), v: u(2, 'token', 128) },
  { name: 'aqua-2.5', k: higgs(2.5, 0x6b), v: higgs(2, 0x76) },
  { name: 'kvq-2', k: higgs(2, 0x6b), v: higgs(2, 0x76) },
].filter((m) => !only || only.includes(m.name));

type V = { label: string; o: DecodeAttentionOptions };
function variants(): V[] {
  const out: V[] = [];
  const full = (
    tpt: number,
    t: { vunroll?: boolean; dbuf?: boolean; vbatch?: number; lazy?: boolean },
    tiles?: number,
  ): V => ({
    label: `tpt${tpt}${t.vunroll ? ' vunroll' : ''}${t.vbatch ? ` vb${t.vbatch}` : ''}${t.lazy ? ' lazy' : ''}${t.dbuf ? ' dbuf' : ''}${tiles ? ` tiles${tiles}` : ''}`,
    o: { tokensPerThread: tpt, tuning: t, ...(tiles ? { tilesPerChunk: tiles / tpt } : {}) },
  });
  if (set === 'ladder') {
    for (const tpt of [1, 2])
      for (const probe of [1, 2, 3])
        out.push({ label: `tpt${tpt} probe${probe}`, o: { tokensPerThread: tpt, tuning: { probe } } });
  }
  if (set === 'check') {
    out.push(full(1, { vunroll: true, lazy: true }));
    out.push(full(2, { vunroll: true, vbatch: 4, lazy: true }));
  }
  if (set === 'tune2') {
    for (const tpt of [1, 2]) {
      out.push(full(tpt, { vunroll: true }));
      out.push(full(tpt, { vunroll: true, lazy: true }));
      for (const vbatch of tpt === 1 ? [2, 4] : [4, 8]) {
        out.push(full(tpt, { vunroll: true, vbatch }));
        out.push(full(tpt, { vunroll: true, vbatch, lazy: true }));
      }
    }
    out.push(full(1, { vunroll: true, lazy: true }, 16));
    out.push(full(2, { vunroll: true, vbatch: 4, lazy: true }, 16));
  }
  if (set === 'ladder' || set === 'tune') {
    for (const tpt of [1, 2]) {
      out.push(full(tpt, {}));
      out.push(full(tpt, { vunroll: true }));
      out.push(full(tpt, { dbuf: true }));
      out.push(full(tpt, { vunroll: true, dbuf: true }));
    }
    for (const tiles of [4, 8, 64]) out.push(full(1, { vunroll: true, dbuf: true }, tiles));
  }
  return out;
}

const log = (...a: unknown[]) => console.log(...a);
const results: Record<string, unknown>[] = [];

function gen(
  rec: Recorder,
  x: import('../src/index.js').GpuBuffer,
  n: number,
  C: number,
  seed: number,
  std: number,
) {
  rec.dispatch('bench-gen', genWgsl, [n, seed, C, { f32: std }], [x], grid(rec.ctx, Math.ceil(n / 256)));
}

async function run(ctx: GpuContext): Promise<void> {
  const Hq = 32;
  const Hkv = 8;
  const D = 128;
  const C = Hkv * D;
  for (const { B, N } of shapes) {
    for (const m of METHODS) {
      using scope = new BufferScope(ctx);
      const ts = { batch: B, tokens: N, kvHeads: Hkv, headDim: D, blockTokens: N };
      const kt0 = new GpuKvTensor(ctx, m.k, ts, 'probe K');
      const vt0 = new GpuKvTensor(ctx, m.v, ts, 'probe V');
      const tensors = [kt0, vt0];
      try {
        const x = scope.create(N * C * 4, 'probe gen');
        const status = scope.upload(new Uint32Array(1));
        for (const [t, spec, std] of [
          [kt0, m.k, 1.5],
          [vt0, m.v, 1],
        ] as const) {
          const enc = scope.create(t.blockBytes, 'probe enc');
          for (let b = 0; b < B; b++) {
            const rec = new Recorder(ctx);
            gen(rec, x, N * C, C, 100 + b + (t === kt0 ? 0 : 50), std);
            recordEncode(rec, scope, spec, { tokens: N, kvHeads: Hkv, headDim: D }, x, enc, status);
            rec.copy(enc, t.buffer, t.blockBytes, 0, t.blockOffset(b, 0));
            rec.submit();
          }
          await ctx.device.queue.onSubmittedWorkDone();
        }
        const kvBytes = kt0.buffer.size + vt0.buffer.size;
        const copies = Math.min(32, Math.max(1, Math.ceil((256 << 20) / kvBytes)));
        const ks = [kt0];
        const vs = [vt0];
        for (let i = 1; i < copies; i++) {
          const k = new GpuKvTensor(ctx, m.k, ts, 'probe K copy');
          const v = new GpuKvTensor(ctx, m.v, ts, 'probe V copy');
          tensors.push(k, v);
          const rec = new Recorder(ctx);
          rec.copy(kt0.buffer, k.buffer, kt0.buffer.size);
          rec.copy(vt0.buffer, v.buffer, vt0.buffer.size);
          rec.submit();
          ks.push(k);
          vs.push(v);
        }
        const q = scope.upload(new SeededRandom(9).normalArray(B * Hq * D));
        const out = scope.create(B * Hq * D * 4);
        const outOnce = async (attn: DecodeAttention) => {
          const rec = new Recorder(ctx);
          attn.record(rec, q, kt0, vt0, out);
          rec.submit();
          return new Float32Array(await out.read(B * Hq * D * 4));
        };
        const shape = { batch: B, tokens: N, queryHeads: Hq, kvHeads: Hkv, headDim: D };
        let ref: Float32Array;
        {
          using a0 = new DecodeAttention(ctx, shape, kt0.tileFormat(), vt0.tileFormat());
          ref = await outOnce(a0);
        }
        let refMax = 0;
        for (const r of ref) refMax = Math.max(refMax, Math.abs(r));
        for (const v of [{ label: 'default', o: {} } as V, ...variants()]) {
          try {
            using attn = new DecodeAttention(ctx, shape, kt0.tileFormat(), vt0.tileFormat(), v.o);
            let diff: number | null = null;
            if (!v.o.tuning?.probe) {
              const got = await outOnce(attn);
              diff = 0;
              for (let i = 0; i < got.length; i++) {
                const d = Math.abs(got[i]! - ref[i]!);
                if (!(d <= diff)) diff = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
              }
              diff /= Math.max(refMax, 1e-30);
            }
            const t = await ctx.scoped('probe', () =>
              timeRecorded(ctx, (rec, i) => attn.record(rec, q, ks[i % copies]!, vs[i % copies]!, out)),
            );
            const gbps = kvBytes / (t.ms * 1e6);
            results.push({
              method: m.name,
              B,
              N,
              label: v.label,
              options: v.o,
              chunks: attn.nChunks,
              tiles: attn.tilesPerChunk,
              ms: t.ms,
              GBps: gbps,
              diff,
            });
            log(
              `${m.name.padEnd(9)} B=${String(B).padStart(2)} N=${N} ${v.label.padEnd(28)} ${t.ms.toFixed(4)} ms ${gbps.toFixed(0).padStart(5)} GB/s chunks ${attn.nChunks}${diff === null ? '' : ` diff ${diff.toExponential(1)}`}`,
            );
          } catch (err) {
            log(`${m.name} B=${B} N=${N} ${v.label}: ERROR ${String(err).slice(0, 400)}`);
            results.push({ method: m.name, B, N, label: v.label, error: String(err) });
          }
        }
      } finally {
        for (const t of tensors) t.dispose();
      }
    }
  }
}

async function main(): Promise<void> {
  const ctx = await createGpuContext({ powerPreference: 'high-performance' });
  const info = ctx.adapterInfo;
  log('adapter', info?.description || info?.device, new Date().toISOString());
  const errs: string[] = [];
  ctx.device.addEventListener('uncapturederror', (e) =>
    errs.push((e as GPUUncapturedErrorEvent).error.message),
  );
  await run(ctx);
  if (errs.length) log(`UNCAPTURED ERRORS ${errs.length}: ${errs.slice(0, 3).join('\n')}`);
  writeFileSync(
    outPath,
    JSON.stringify({ date: new Date().toISOString(), adapter: info?.description, results, errs }, null, 2),
  );
  ctx.dispose();
}

main().then(
  () => setTimeout(() => process.exit(0), 100),
  (err) => {
    console.error(err);
    writeFileSync(outPath, JSON.stringify({ results, error: String(err?.stack ?? err) }, null, 2));
    process.exit(1);
  },
);
