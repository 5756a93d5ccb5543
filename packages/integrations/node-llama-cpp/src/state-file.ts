import { CorruptFileError, InvalidArgumentError, ShapeError } from '@kvq/core';

/** `ggsq`: llama.cpp's sequence-state file magic (LLAMA_STATE_SEQ_MAGIC). */
export const LLAMA_STATE_SEQ_MAGIC = 0x67677371;
/** The sequence-state version this reads and writes (LLAMA_STATE_SEQ_VERSION of llama.cpp in node-llama-cpp 3.22). */
export const LLAMA_STATE_SEQ_VERSION = 3;

/** One layer's K/V rows as llama.cpp stores them for the cells of a sequence. */
export interface StateLayer {
  readonly keyType: number;
  /** bytes of one cell's keys (all KV heads) */
  readonly keyRowBytes: number;
  /** [cells × keyRowBytes] */
  readonly keys: Uint8Array;
  readonly valueType: number;
  /** non-transposed: bytes of one cell's values; transposed: bytes of one element */
  readonly valueUnitBytes: number;
  /** transposed V only: values per cell (kvHeads × headDim) */
  readonly valueWidth: number;
  /** [cells × row] (v_trans 0) or [width × cells] elements (v_trans 1) */
  readonly values: Uint8Array;
}

/** A llama.cpp sequence state (one stream, one sequence), as `sequence.saveStateToFile` writes it. */
export interface SequenceState {
  /** the evaluated tokens stored with the state */
  readonly tokens: Int32Array;
  /** position of every cell */
  readonly positions: Int32Array;
  /** sequence id of the cells (one per cell) */
  readonly seqId: number;
  readonly vTrans: boolean;
  readonly layers: readonly StateLayer[];
}

const WHAT = 'llama.cpp sequence state';

class Reader {
  o = 0;
  readonly dv: DataView;
  constructor(readonly b: Uint8Array) {
    this.dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }
  need(n: number, what: string) {
    if (n < 0 || this.o + n > this.b.length)
      throw new CorruptFileError(
        WHAT,
        `truncated: ${what} needs ${n} bytes at offset ${this.o}, file has ${this.b.length}`,
      );
  }
  u32(what: string) {
    this.need(4, what);
    const v = this.dv.getUint32(this.o, true);
    this.o += 4;
    return v;
  }
  i32(what: string) {
    this.need(4, what);
    const v = this.dv.getInt32(this.o, true);
    this.o += 4;
    return v;
  }
  u64(what: string) {
    this.need(8, what);
    const v = this.dv.getBigUint64(this.o, true);
    this.o += 8;
    if (v > BigInt(this.b.length)) throw new CorruptFileError(WHAT, `${what} ${v} exceeds the file size`);
    return Number(v);
  }
  bytes(n: number, what: string) {
    this.need(n, what);
    const v = this.b.subarray(this.o, this.o + n);
    this.o += n;
    return v;
  }
}

/**
 * Parses a sequence-state file (bounds-checked: truncation, garbage and unsupported shapes are a
 * `CorruptFileError` naming the offset; a layer count other than `expectedLayers` is a `ShapeError`:
 * the state of another model). Supports one stream, cells of one sequence, no M-RoPE cell
 * extensions — what node-llama-cpp writes for a decoder-only model's sequence.
 */
export function parseSequenceState(bytes: Uint8Array, expectedLayers?: number): SequenceState {
  if (!(bytes instanceof Uint8Array)) throw new InvalidArgumentError(`${WHAT}: expected the file's bytes`);
  const r = new Reader(bytes);
  const magic = r.u32('magic');
  if (magic !== LLAMA_STATE_SEQ_MAGIC)
    throw new CorruptFileError(
      WHAT,
      `wrong magic 0x${magic.toString(16)} (expected 0x${LLAMA_STATE_SEQ_MAGIC.toString(16)} "ggsq")`,
    );
  const version = r.u32('version');
  if (version !== LLAMA_STATE_SEQ_VERSION)
    throw new CorruptFileError(
      WHAT,
      `version ${version} is not supported (this reads version ${LLAMA_STATE_SEQ_VERSION})`,
    );
  const nTokens = r.u32('token count');
  r.need(4 * nTokens, 'tokens');
  const tokens = new Int32Array(nTokens);
  for (let i = 0; i < nTokens; i++) tokens[i] = r.i32('token');
  const nStream = r.u32('stream count');
  if (nStream !== 1)
    throw new CorruptFileError(WHAT, `${nStream} streams (only single-stream states are supported)`);
  const cells = r.u32('cell count');
  if (cells === 0) return { tokens, positions: new Int32Array(0), seqId: 0, vTrans: false, layers: [] };
  if (cells > 1 << 24) throw new CorruptFileError(WHAT, `implausible cell count ${cells}`);
  const positions = new Int32Array(cells);
  let seqId = -1;
  for (let i = 0; i < cells; i++) {
    positions[i] = r.i32('cell position');
    const n = r.u32('cell sequence count');
    if (n !== 1) throw new CorruptFileError(WHAT, `cell ${i} belongs to ${n} sequences (expected 1)`);
    const s = r.i32('cell sequence id');
    if (seqId === -1) seqId = s;
    else if (s !== seqId)
      throw new CorruptFileError(WHAT, `cells of sequences ${seqId} and ${s} in one state`);
  }
  const vTrans = r.u32('v_trans flag');
  if (vTrans > 1) throw new CorruptFileError(WHAT, `v_trans flag ${vTrans} at offset ${r.o - 4}`);
  const nLayer = r.u32('layer count');
  if (expectedLayers !== undefined && nLayer !== expectedLayers)
    throw new ShapeError(
      `${WHAT}: layer count (the state belongs to another model)`,
      [expectedLayers],
      [nLayer],
    );
  const keys: { type: number; row: number; data: Uint8Array }[] = [];
  for (let l = 0; l < nLayer; l++) {
    const type = r.i32(`layer ${l} key type`);
    const row = r.u64(`layer ${l} key row size`);
    keys.push({ type, row, data: r.bytes(row * cells, `layer ${l} keys`) });
  }
  const layers: StateLayer[] = [];
  for (let l = 0; l < nLayer; l++) {
    const valueType = r.i32(`layer ${l} value type`);
    let unit: number;
    let width = 0;
    let values: Uint8Array;
    if (!vTrans) {
      unit = r.u64(`layer ${l} value row size`);
      values = r.bytes(unit * cells, `layer ${l} values`);
    } else {
      unit = r.u32(`layer ${l} value element size`);
      width = r.u32(`layer ${l} value width`);
      values = r.bytes(unit * width * cells, `layer ${l} values`);
    }
    const k = keys[l]!;
    layers.push({
      keyType: k.type,
      keyRowBytes: k.row,
      keys: k.data,
      valueType,
      valueUnitBytes: unit,
      valueWidth: width,
      values,
    });
  }
  if (r.o !== bytes.length)
    throw new CorruptFileError(WHAT, `${bytes.length - r.o} trailing bytes after the state`);
  return { tokens, positions, seqId, vTrans: vTrans === 1, layers };
}

/** Writes a state in the format {@link parseSequenceState} reads (and llama.cpp loads). */
export function writeSequenceState(s: SequenceState): Uint8Array {
  const cells = s.positions.length;
  let size = 12 + 4 * s.tokens.length + 8;
  if (cells > 0) {
    size += cells * 12 + 8;
    for (const l of s.layers) size += 12 + l.keys.length + (s.vTrans ? 12 : 12) + l.values.length;
  }
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  let o = 0;
  const u32 = (v: number) => {
    dv.setUint32(o, v, true);
    o += 4;
  };
  const i32 = (v: number) => {
    dv.setInt32(o, v, true);
    o += 4;
  };
  const u64 = (v: number) => {
    dv.setBigUint64(o, BigInt(v), true);
    o += 8;
  };
  const raw = (b: Uint8Array) => {
    out.set(b, o);
    o += b.length;
  };
  u32(LLAMA_STATE_SEQ_MAGIC);
  u32(LLAMA_STATE_SEQ_VERSION);
  u32(s.tokens.length);
  for (const t of s.tokens) i32(t);
  u32(1);
  u32(cells);
  if (cells > 0) {
    for (let i = 0; i < cells; i++) {
      i32(s.positions[i]!);
      u32(1);
      i32(s.seqId);
    }
    u32(s.vTrans ? 1 : 0);
    u32(s.layers.length);
    for (const l of s.layers) {
      i32(l.keyType);
      u64(l.keyRowBytes);
      raw(l.keys);
    }
    for (const l of s.layers) {
      i32(l.valueType);
      if (!s.vTrans) u64(l.valueUnitBytes);
      else {
        u32(l.valueUnitBytes);
        u32(l.valueWidth);
      }
      raw(l.values);
    }
  }
  if (o !== size) throw new Error(`internal: wrote ${o} of ${size} bytes`);
  return out;
}
