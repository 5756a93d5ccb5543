import { KvqError } from '@kvq/core';
import { CommanderError } from 'commander';

/**
 * Exit codes of `kvq` that scripts can rely on: 0 success, 1 runtime error, 2 usage error (unknown
 * flag, bad flag value), 3 bad input file (missing, corrupt, wrong version, for another model).
 */
export const EXIT = { ok: 0, error: 1, usage: 2, input: 3 } as const;

/** An error of the command line itself (bad flag values, unreadable files), with a hint. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
    /** the process exit code (default 1) */
    readonly exitCode: number = EXIT.error,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

const INPUT_CODES = new Set(['CORRUPT_FILE', 'UNSUPPORTED_VERSION', 'ADAPTER_MISMATCH']);
const USAGE_CODES = new Set(['UNKNOWN_PRESET']);

/** A Node.js system error (ENOENT, EACCES, EISDIR, …) from the file system. */
function systemError(err: unknown): (Error & { code: string; path?: string; syscall?: string }) | undefined {
  const e = err as { code?: unknown; syscall?: unknown };
  return err instanceof Error &&
    typeof e.code === 'string' &&
    /^E[A-Z]+$/.test(e.code) &&
    typeof e.syscall === 'string'
    ? (err as Error & { code: string; path?: string; syscall?: string })
    : undefined;
}

const SYSTEM_HINTS: Record<string, string> = {
  ENOENT: 'check the path',
  EISDIR: 'pass a file, not a folder',
  ENOTDIR: 'a part of the path is not a folder',
  EACCES: 'check the permissions of the file and its folder',
  EPERM: 'check the permissions of the file and its folder',
  ENOSPC: 'free some disk space',
  EROFS: 'write somewhere writable',
};

/** The exit code for a thrown value (see {@link EXIT}). */
export function exitCodeOf(err: unknown): number {
  if (err instanceof CliError) return err.exitCode;
  if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  if (err instanceof KvqError)
    return INPUT_CODES.has(err.code) ? EXIT.input : USAGE_CODES.has(err.code) ? EXIT.usage : EXIT.error;
  // a file that cannot be read (a folder, no permission) is a bad input; other system errors are
  // runtime errors
  const sys = systemError(err);
  if (sys && sys.syscall !== undefined && /^(read|open|scandir)$/.test(sys.syscall) && sys.code === 'EISDIR')
    return EXIT.input;
  return EXIT.error;
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
 * Unexpected errors (bugs) keep their stack with `verbose` (`--verbose`) or `KVQ_DEBUG` set.
 */
export function formatError(err: unknown, verbose = false): string {
  if (err instanceof CliError) return `kvq: ${err.message}${err.hint ? `\n  hint: ${err.hint}` : ''}`;
  if (err instanceof KvqError) {
    const hint = HINTS[err.code];
    return `kvq: ${err.message}${hint ? `\n  hint: ${hint}` : ''}`;
  }
  if (err instanceof CommanderError)
    return err.message.startsWith('error:') ? `kvq: ${err.message}` : err.message;
  const sys = systemError(err);
  if (sys) {
    const hint = SYSTEM_HINTS[sys.code] ?? 'check the path and the disk';
    const detail = verbose && sys.stack ? `\n${sys.stack}` : '';
    return `kvq: ${sys.syscall} ${sys.path ?? ''}${sys.path ? ': ' : ''}${sys.code} (${sys.message.replace(/^E[A-Z]+: /, '').replace(/, \w+ .*$/, '')})${detail}\n  hint: ${hint}`;
  }
  const e = err as Error;
  const detail = (verbose || process.env.KVQ_DEBUG) && e?.stack ? `\n${e.stack}` : '';
  return `kvq: unexpected error: ${e?.message ?? String(err)}${detail}\n  hint: run with --verbose for the stack trace and report it`;
}
