/**
 * Typed errors. Every error kvq throws on bad input is a {@link KvqError} with a stable `code`,
 * and a message that names what was wrong (expected vs actual).
 */
export type KvqErrorCode =
  | 'SHAPE_MISMATCH'
  | 'DTYPE_MISMATCH'
  | 'NON_FINITE'
  | 'INVALID_ARGUMENT'
  | 'ADAPTER_MISMATCH'
  | 'MISSING_ADAPTERS'
  | 'CORRUPT_FILE'
  | 'UNSUPPORTED_VERSION'
  | 'BACKEND_UNAVAILABLE'
  | 'UNSUPPORTED_OP'
  | 'OUT_OF_MEMORY'
  | 'DISPOSED'
  | 'UNKNOWN_PRESET';

/** Base class of every error kvq throws on purpose. */
export class KvqError extends Error {
  readonly code: KvqErrorCode;
  constructor(code: KvqErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A tensor's shape is not the one expected. */
export class ShapeError extends KvqError {
  constructor(
    what: string,
    readonly expected: readonly (number | string)[],
    readonly actual: readonly number[],
  ) {
    super('SHAPE_MISMATCH', `${what}: expected shape [${expected.join(', ')}], got [${actual.join(', ')}]`);
  }
}

/** Input of the wrong typed-array kind or element type. */
export class DTypeError extends KvqError {
  constructor(what: string, expected: string, actual: string) {
    super('DTYPE_MISMATCH', `${what}: expected ${expected}, got ${actual}`);
  }
}

/** NaN or ±Inf in an input tensor (rejected by default). */
export class NonFiniteError extends KvqError {
  constructor(
    what: string,
    readonly index: number,
    readonly value: number,
  ) {
    super('NON_FINITE', `${what}: non-finite value ${value} at flat index ${index}`);
  }
}

/** An argument or option is out of its documented range. */
export class InvalidArgumentError extends KvqError {
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
  }
}

/** Adapters (AQUA-KV predictors) fitted for another model, layout or preset. */
export class AdapterMismatchError extends KvqError {
  constructor(message: string) {
    super('ADAPTER_MISMATCH', message);
  }
}

/** A preset needs adapters (AQUA-KV) and none were given. Never silently falls back. */
export class MissingAdaptersError extends KvqError {
  constructor(preset: string) {
    super(
      'MISSING_ADAPTERS',
      `preset "${preset}" predicts K/V with AQUA-KV adapters, but no adapters were given: fit them with \`kvq calibrate\` and pass them (adapters option / --adapters)`,
    );
  }
}

/** A file is truncated, its checksum does not match, or its structure is invalid. */
export class CorruptFileError extends KvqError {
  constructor(what: string, detail: string) {
    super('CORRUPT_FILE', `${what}: ${detail}`);
  }
}

/** A file's format version is not one this build reads. */
export class UnsupportedVersionError extends KvqError {
  constructor(what: string, version: number, supported: readonly number[]) {
    super(
      'UNSUPPORTED_VERSION',
      `${what}: format version ${version} is not supported (this build reads ${supported.join(', ')})`,
    );
  }
}

/** A backend cannot be used here; `reason` says why ("no CUDA driver", "no WebGPU adapter", ...). */
export class BackendUnavailableError extends KvqError {
  constructor(
    readonly backend: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super('BACKEND_UNAVAILABLE', `backend "${backend}" is unavailable: ${reason}`, options);
  }
}

/** A backend does not implement an operation. */
export class UnsupportedOpError extends KvqError {
  constructor(backend: string, op: string) {
    super('UNSUPPORTED_OP', `backend "${backend}" does not implement ${op}`);
  }
}

/** Device or host memory ran out. */
export class OutOfMemoryError extends KvqError {
  constructor(what: string, bytes?: number) {
    super(
      'OUT_OF_MEMORY',
      `${what}: out of memory${bytes !== undefined ? ` (requested ${bytes} bytes)` : ''}`,
    );
  }
}

/** An object was used after `dispose()`. */
export class DisposedError extends KvqError {
  constructor(what: string) {
    super('DISPOSED', `${what} was used after dispose()`);
  }
}

/** A preset name that does not exist. */
export class UnknownPresetError extends KvqError {
  constructor(name: string, known: readonly string[]) {
    super('UNKNOWN_PRESET', `unknown preset "${name}"; known presets: ${known.join(', ')}`);
  }
}
