import { type KVLayout, type PresetConfig, decodeContainer } from '@kvq/core';

/** Every container version: the header of a snapshot of any version can be shown. */
const ANY_VERSION: readonly number[] = Array.from({ length: 0x10000 }, (_, i) => i);

/** What a `.kvq` snapshot's container header records (packages/core/src/cache/snapshot.ts). */
export interface SnapshotHeader {
  readonly version: number;
  readonly layout?: KVLayout;
  readonly preset?: PresetConfig;
  readonly policy?: { sinkTokens: number; bufferTokens: number };
  readonly rope?: unknown;
  readonly adapters?: { model?: { name?: string }; layout?: KVLayout } | null;
  readonly layers?: readonly { length: number; sink: number; buffer: number; blocks: unknown[] }[];
  readonly [key: string]: unknown;
}

/**
 * Reads and checks a `.kvq` snapshot's container (magic, structure, every CRC-32) of any version
 * and returns its header. Throws CorruptFileError naming what is wrong (e.g. a checksum mismatch).
 */
export function readSnapshotHeader(bytes: Uint8Array): SnapshotHeader {
  const { version, header } = decodeContainer(bytes, { kind: 'kvq-cache', versions: ANY_VERSION });
  return { ...(header as Record<string, unknown>), version } as SnapshotHeader;
}

/** Like {@link readSnapshotHeader}, but undefined for a file it cannot read. */
export function trySnapshotHeader(bytes: Uint8Array): SnapshotHeader | undefined {
  try {
    return readSnapshotHeader(bytes);
  } catch {
    return undefined;
  }
}
