/**
 * One fused decode-attention step on the device, as the tests and the device bench run it: upload the
 * query, record, submit and read the output back inside an error scope. `bench/device.ts` bundles this.
 */
import type { BufferScope, DecodeAttention, GpuContext, GpuKvTensor } from '../src/index.js';
import { Recorder } from '../src/index.js';

/** Runs `attn` on query `q` `[batch, Hq, D]` over `keys` / `values`; resolves to the output `[batch, Hq, D]`. */
export async function runDecodeAttention(
  ctx: GpuContext,
  scope: BufferScope,
  attn: DecodeAttention,
  q: Float32Array,
  keys: GpuKvTensor,
  values: GpuKvTensor,
  label = 'fused attention',
): Promise<Float32Array> {
  const qb = scope.upload(q);
  const out = scope.create(q.byteLength);
  return ctx.scoped(label, async () => {
    const rec = new Recorder(ctx);
    attn.record(rec, qb, keys, values, out);
    rec.submit();
    return new Float32Array(await out.read(q.byteLength));
  });
}
