import { KvqError } from '@kvq/core';
import { CommanderError } from 'commander';

/** An error of the command line itself (bad flag values, unreadable files), with a hint. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

const HINTS: Partial<Record<KvqError['code'], string>> = {
  MISSING_ADAPTERS:
    'fit adapters with `kvq calibrate` and pass --adapters <file>, or leave the aqua presets out of --presets',
  UNKNOWN_PRESET: 'see `kvq eval --help` for the preset names',
  CORRUPT_FILE: 'check the --model / --adapters path: the file is damaged or not the expected format',
  UNSUPPORTED_VERSION: 'the file was written by a newer kvq or tool',
  BACKEND_UNAVAILABLE: 'use --backend cpu, or install the kernel package for that backend',
  ADAPTER_MISMATCH: 'the adapters were fitted for another model or layout: recalibrate with `kvq calibrate`',
  INVALID_ARGUMENT: 'see `kvq <command> --help`',
};

/**
 * Formats any thrown value as one readable line (`kvq: <message>`) plus an optional hint line.
 * Unexpected errors (bugs) keep their stack when `KVQ_DEBUG` is set.
 */
export function formatError(err: unknown): string {
  if (err instanceof CliError) return `kvq: ${err.message}${err.hint ? `\n  hint: ${err.hint}` : ''}`;
  if (err instanceof KvqError) {
    const hint = HINTS[err.code];
    return `kvq: ${err.message}${hint ? `\n  hint: ${hint}` : ''}`;
  }
  if (err instanceof CommanderError)
    return err.message.startsWith('error:') ? `kvq: ${err.message}` : err.message;
  const e = err as Error;
  const detail = process.env.KVQ_DEBUG && e?.stack ? `\n${e.stack}` : '';
  return `kvq: unexpected error: ${e?.message ?? String(err)}${detail}\n  hint: set KVQ_DEBUG=1 for the stack trace and report it`;
}
