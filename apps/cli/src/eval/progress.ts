import type { EvalProgress } from '@kvq/decoder';
import { type ProgressMode, createProgress } from '../progress.js';

/**
 * The progress of `kvq eval` on stderr ({@link ProgressMode}); returns the callback for
 * `evaluateCaches` and a stop function.
 */
export function evalProgress(mode: ProgressMode): { update: (p: EvalProgress) => void; stop: () => void } {
  const bar = createProgress(mode, 'eval', '{value}/{total} chunks | window {window} | {cache}');
  let started = false;
  return {
    update: (p) => {
      const payload = { cache: p.cache, window: p.window + 1 };
      if (!started) {
        bar.start(p.total, payload);
        started = true;
      }
      bar.update(p.done, payload);
    },
    stop: () => bar.stop(),
  };
}
