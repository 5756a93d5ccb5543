/**
 * A byte store behind a prefix cache. Implementations never throw on a missing key; `get` of a
 * missing key resolves to undefined.
 */
export interface ByteStore {
  get(key: string): Promise<Uint8Array | undefined>;
  /** writes `value` under `key` atomically (a reader sees the old value, the new one, or none) */
  set(key: string, value: Uint8Array): Promise<void>;
  has(key: string): Promise<boolean>;
  delete(key: string): Promise<void>;
  /** releases resources (connections); the store must not be used afterwards */
  close(): Promise<void>;
}
