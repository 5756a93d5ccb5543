import cliProgress from 'cli-progress';

/** How a command reports progress on stderr. */
export type ProgressMode = 'bar' | 'lines' | 'off';

/**
 * The progress mode of a command: a bar when stderr is a terminal; `lines` (plain lines) when it is
 * a pipe and the command asked for them (the long ones: eval, calibrate, bench); nothing with
 * `--no-progress` or `--json` on stdout (which scripts parse).
 */
export function progressMode(opts: {
  progress?: boolean;
  jsonStdout?: boolean;
  linesWhenPiped?: boolean;
}): ProgressMode {
  if (opts.progress === false || opts.jsonStdout) return 'off';
  if (process.stderr.isTTY === true) return 'bar';
  return opts.linesWhenPiped ? 'lines' : 'off';
}

/** A progress reporter: `start`, `update` (value and the payload fields of the format), `stop`. */
export interface Progress {
  start(total: number, payload?: Record<string, string | number>): void;
  update(value: number, payload?: Record<string, string | number>): void;
  stop(): void;
}

/**
 * A progress reporter on stderr. `format` is a cli-progress format without the bar, e.g.
 * `'{value}/{total} tokens'` (`{bar}`, percentage and ETA are added for the bar). In `lines` mode
 * a plain line is written at most every `everyMs` (default 2 s) and at the end.
 */
export function createProgress(
  mode: ProgressMode,
  label: string,
  format: string,
  opts: { everyMs?: number } = {},
): Progress {
  if (mode === 'off') return { start() {}, update() {}, stop() {} };
  if (mode === 'bar') {
    const bar = new cliProgress.SingleBar(
      {
        stream: process.stderr,
        format: `${label} [{bar}] {percentage}% | ${format} | ETA {eta_formatted}`,
        hideCursor: true,
        clearOnComplete: true,
      },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      start(total, payload) {
        bar.start(total, 0, payload);
        started = true;
      },
      update(value, payload) {
        if (started) bar.update(value, payload);
      },
      stop() {
        if (started) bar.stop();
        started = false;
      },
    };
  }
  const every = opts.everyMs ?? 2000;
  let total = 0;
  let last = 0;
  let fields: Record<string, string | number> = {};
  const render = (value: number) =>
    `${label}: ${format.replace(/\{(\w+)\}/g, (_, k: string) =>
      k === 'value' ? String(value) : k === 'total' ? String(total) : String(fields[k] ?? ''),
    )}\n`;
  return {
    start(t, payload) {
      total = t;
      fields = { ...payload };
      last = performance.now();
    },
    update(value, payload) {
      fields = { ...fields, ...payload };
      const now = performance.now();
      if (value >= total || now - last >= every) {
        last = now;
        process.stderr.write(render(value));
      }
    },
    stop() {},
  };
}
