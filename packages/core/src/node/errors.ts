/**
 * Errors of the Node file helpers. Both are {@link InvalidArgumentError}s (code
 * `INVALID_ARGUMENT`): the path given does not name a file that can be read or written.
 */
import { InvalidArgumentError } from '../errors.js';

/** No file at `path` (ENOENT). */
export class FileNotFoundError extends InvalidArgumentError {
  constructor(
    readonly path: string,
    options?: { cause?: unknown },
  ) {
    super(`no such file: ${path}`);
    if (options?.cause !== undefined) Object.defineProperty(this, 'cause', { value: options.cause });
  }
}

/** `path` cannot be read or written: a directory, no permission, a missing parent folder, ... */
export class FileAccessError extends InvalidArgumentError {
  constructor(
    readonly path: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`cannot access ${path}: ${reason}`);
    if (options?.cause !== undefined) Object.defineProperty(this, 'cause', { value: options.cause });
  }
}

const ACCESS_REASONS: Readonly<Record<string, string>> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory',
  ENOTDIR: 'a parent of the path is not a directory',
  EROFS: 'read-only file system',
  ENAMETOOLONG: 'name too long',
  ELOOP: 'too many symbolic links',
};

/**
 * Maps a Node fs error about `path` to a typed error: ENOENT → {@link FileNotFoundError} (or, when
 * writing, a {@link FileAccessError} saying the folder does not exist), access problems →
 * {@link FileAccessError}. Other errors (ENOSPC, EIO, ...) are environment failures and are
 * returned unchanged.
 */
export function fsError(e: unknown, path: string, writing: boolean): unknown {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT') {
    return writing
      ? new FileAccessError(path, 'its folder does not exist', { cause: e })
      : new FileNotFoundError(path, { cause: e });
  }
  if (code !== undefined && Object.hasOwn(ACCESS_REASONS, code)) {
    return new FileAccessError(path, ACCESS_REASONS[code]!, { cause: e });
  }
  return e;
}
