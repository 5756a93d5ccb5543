/** Wall-clock timing of recorded GPU work: reps in one submission, median over trials. */
import type { GpuContext } from '../src/index.js';
import { Recorder } from '../src/index.js';

/** Median milliseconds per rep of `record(rec, rep)`, with reps chosen so a trial lasts ≥ `minMs`. */
export async function timeRecorded(
  ctx: GpuContext,
  record: (rec: Recorder, rep: number) => void,
  opts: { trials?: number; minMs?: number; maxReps?: number } = {},
): Promise<{ ms: number; reps: number; trialsMs: number[] }> {
  const trials = opts.trials ?? 5;
  const minMs = opts.minMs ?? 40;
  const run = async (reps: number) => {
    const rec = new Recorder(ctx);
    for (let i = 0; i < reps; i++) record(rec, i);
    const t0 = performance.now();
    rec.submit();
    await ctx.device.queue.onSubmittedWorkDone();
    return (performance.now() - t0) / reps;
  };
  await run(1); // compile, warm up
  const one = await run(3);
  const reps = Math.max(3, Math.min(opts.maxReps ?? 2000, Math.ceil(minMs / Math.max(one, 1e-3))));
  const trialsMs: number[] = [];
  for (let t = 0; t < trials; t++) trialsMs.push(await run(reps));
  const sorted = [...trialsMs].sort((a, b) => a - b);
  return { ms: sorted[Math.floor(sorted.length / 2)]!, reps, trialsMs };
}
