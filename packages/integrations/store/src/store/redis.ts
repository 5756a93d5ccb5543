import { BackendUnavailableError, InvalidArgumentError } from '@kvq/core';
import { type Cluster, Redis, type RedisOptions } from 'ioredis';
import type { ByteStore } from './types.js';

/** Options of {@link RedisStore}. */
export interface RedisStoreOptions {
  /** an ioredis client (`new Redis(…)` or `new Redis.Cluster(…)`) the store uses but does not close */
  readonly client?: Redis | Cluster;
  /** or a URL (`redis://host:6379/0`) for a client the store creates, owns and closes */
  readonly url?: string;
  /** prepended to every key (default `"kvq:"`) */
  readonly keyPrefix?: string;
  /** expiry of written values in seconds (default: none; set Redis `maxmemory-policy` instead) */
  readonly ttlSeconds?: number;
  /** per-command timeout of an owned client, ms (default 1000) */
  readonly commandTimeoutMs?: number;
}

/**
 * ioredis options for a store that must fail fast rather than wait: no offline queue (a command while
 * disconnected fails at once), no per-request retries, a command timeout, and reconnection in the
 * background (a restarted server is picked up again).
 */
export function failFastRedisOptions(commandTimeoutMs = 1000): RedisOptions {
  return {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: commandTimeoutMs,
    connectTimeout: commandTimeoutMs,
    retryStrategy: (times) => Math.min(50 * times, 1000),
    lazyConnect: false,
  };
}

/**
 * A {@link ByteStore} on Redis (single server or Redis Cluster through the same ioredis API).
 * Writes use `SET … NX`: concurrent writers of one prefix leave the first value (every writer's value
 * for a key is the same content, and readers validate it anyway). Errors propagate to the
 * {@link PrefixCache}, which turns them — and slow answers past its deadline — into misses.
 */
export class RedisStore implements ByteStore {
  readonly client: Redis | Cluster;
  readonly keyPrefix: string;
  readonly #owned: boolean;
  readonly #ttl: number | undefined;
  readonly #waitMs: number;

  constructor(options: RedisStoreOptions) {
    if (!options?.client && !options?.url)
      throw new InvalidArgumentError('RedisStore needs a client or a url');
    if (options.ttlSeconds !== undefined && !(Number.isInteger(options.ttlSeconds) && options.ttlSeconds > 0))
      throw new InvalidArgumentError(`ttlSeconds must be a positive integer, got ${options.ttlSeconds}`);
    this.#owned = !options.client;
    this.client = options.client ?? new Redis(options.url!, failFastRedisOptions(options.commandTimeoutMs));
    if (this.#owned) this.client.on('error', () => {}); // connection errors surface as failed commands
    this.keyPrefix = options.keyPrefix ?? 'kvq:';
    this.#ttl = options.ttlSeconds;
    this.#waitMs = options.commandTimeoutMs ?? 1000;
  }

  /**
   * Waits (at most the command timeout) for a connection that is being (re)established; with the
   * offline queue off, a command sent before that would fail at once.
   */
  async #ready(): Promise<void> {
    const c = this.client;
    if (c.status === 'ready') return;
    if (c.status === 'end' || c.status === 'close')
      throw new BackendUnavailableError('redis', `connection ${c.status}`);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        c.off('ready', onReady);
        reject(
          new BackendUnavailableError('redis', `not connected after ${this.#waitMs} ms (status ${c.status})`),
        );
      }, this.#waitMs);
      const onReady = () => {
        clearTimeout(timer);
        resolve();
      };
      c.once('ready', onReady);
    });
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    await this.#ready();
    const b = await this.client.getBuffer(this.keyPrefix + key);
    return b === null ? undefined : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  }

  async set(key: string, value: Uint8Array): Promise<void> {
    await this.#ready();
    const buf = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    if (this.#ttl !== undefined) await this.client.set(this.keyPrefix + key, buf, 'EX', this.#ttl, 'NX');
    else await this.client.set(this.keyPrefix + key, buf, 'NX');
  }

  async has(key: string): Promise<boolean> {
    await this.#ready();
    return (await this.client.exists(this.keyPrefix + key)) === 1;
  }

  async delete(key: string): Promise<void> {
    await this.#ready();
    await this.client.del(this.keyPrefix + key);
  }

  async close(): Promise<void> {
    if (this.#owned) this.client.disconnect();
  }
}
