import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '@kvq/core';

/** What a stored prefix depends on besides its tokens. */
export interface PrefixIdentity {
  /** model identity, e.g. a GGUF file hash or name + revision */
  readonly model: string;
  /** adapter identity ('' or omitted when the preset uses none) */
  readonly adapter?: string;
  /** preset name */
  readonly preset: string;
}

/** Default chunk size in tokens. */
export const DEFAULT_CHUNK_TOKENS = 256;

/** Throws InvalidArgumentError unless `tokens` are non-negative 32-bit integers. */
export function validateTokens(tokens: ArrayLike<number>): void {
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as number;
    if (!Number.isInteger(t) || t < 0 || t > 0xffffffff)
      throw new InvalidArgumentError(`token ${i} is not a non-negative 32-bit integer: ${t}`);
  }
}

/**
 * Keys (hex SHA-256) of every full chunk of `tokens`: key i names the exact prefix
 * `tokens[0 .. (i+1)·chunkTokens)` under `identity`. A trailing partial chunk has no key.
 * The hash is incremental: identity first (length-prefixed JSON), then every token as uint32 LE.
 */
export function chunkKeys(
  identity: PrefixIdentity,
  tokens: ArrayLike<number>,
  chunkTokens: number = DEFAULT_CHUNK_TOKENS,
): string[] {
  if (!Number.isInteger(chunkTokens) || chunkTokens <= 0)
    throw new InvalidArgumentError(`chunkTokens must be a positive integer, got ${chunkTokens}`);
  if (typeof identity?.model !== 'string' || typeof identity.preset !== 'string')
    throw new InvalidArgumentError('identity needs string model and preset');
  validateTokens(tokens);
  const id = Buffer.from(
    JSON.stringify(['kvq-prefix-v1', identity.model, identity.adapter ?? '', identity.preset, chunkTokens]),
  );
  const hash = createHash('sha256');
  const len = Buffer.alloc(4);
  len.writeUInt32LE(id.length);
  hash.update(len);
  hash.update(id);
  const keys: string[] = [];
  const n = Math.floor(tokens.length / chunkTokens);
  const buf = Buffer.alloc(chunkTokens * 4);
  for (let c = 0; c < n; c++) {
    for (let i = 0; i < chunkTokens; i++) buf.writeUInt32LE(tokens[c * chunkTokens + i] as number, i * 4);
    hash.update(buf);
    keys.push(hash.copy().digest('hex'));
  }
  return keys;
}
