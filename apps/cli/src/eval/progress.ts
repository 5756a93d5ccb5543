import type { EvalProgress } from '@kvq/decoder';
import cliProgress from 'cli-progress';

/** A progress bar on stderr (drawn only on a terminal); returns the callback and a stop function. */
export function progressBar(enabled: boolean): { update: (p: EvalProgress) => void; stop: () => void } {
  if (!enabled) return { update: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format:
        'eval [{bar}] {percentage}% | {value}/{total} chunks | window {window} | {cache} | ETA {eta_formatted}',
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update: (p) => {
      if (!started) {
        bar.start(p.total, 0, { cache: p.cache, window: p.window + 1 });
        started = true;
      }
      bar.update(p.done, { cache: p.cache, window: p.window + 1 });
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}
