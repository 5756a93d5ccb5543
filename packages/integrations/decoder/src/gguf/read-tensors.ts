import { CorruptFileError, InvalidArgumentError, KvqError } from '@kvq/core';
import { dequantBF16, dequantF16, dequantF32 } from './dequant-f16.js';
import { dequantQ4_K } from './dequant-q4_k.js';
import { dequantQ6_K } from './dequant-q6_k.js';
import { dequantQ8_0 } from './dequant-q8_0.js';
import { GGML_TYPE, SUPPORTED_BLOCKS, ggmlTypeName } from './ggml-types.js';
import { type GgufHeader, type GgufTensorInfo, type GgufValue, readGgufHeader } from './read-header.js';

/** A tensor type this package cannot dequantize. */
export class UnsupportedTensorTypeError extends KvqError {
  constructor(what: string, tensor: string, type: number) {
    const known = [...SUPPORTED_BLOCKS.keys()].map(ggmlTypeName).join(', ');
    super(
      'INVALID_ARGUMENT',
      `${what}: tensor "${tensor}" has ggml type ${ggmlTypeName(type)}, which kvq cannot dequantize (supported: ${known})`,
    );
  }
}

/** A dequantized tensor: fp32 data, row-major `shape` (GGUF dims reversed: `shape[last]` is contiguous). */
export interface DequantizedTensor {
  readonly name: string;
  readonly data: Float32Array;
  readonly shape: readonly number[];
  /** ggml type it was stored as */
  readonly type: number;
}

const DEQUANT: Record<number, (b: Uint8Array, n: number, out: Float32Array) => Float32Array> = {
  [GGML_TYPE.F32]: dequantF32,
  [GGML_TYPE.F16]: dequantF16,
  [GGML_TYPE.BF16]: dequantBF16,
  [GGML_TYPE.Q8_0]: dequantQ8_0,
  [GGML_TYPE.Q4_K]: dequantQ4_K,
  [GGML_TYPE.Q6_K]: dequantQ6_K,
};

/**
 * A GGUF file held in memory: its header and tensor data, dequantized to fp32 on request.
 * Construct with {@link GgufFile.parse} (bytes) or `readGgufFile(path)` (Node).
 */
export class GgufFile {
  readonly #byName: Map<string, GgufTensorInfo>;

  private constructor(
    readonly bytes: Uint8Array,
    readonly header: GgufHeader,
    /** how the file is named in errors */
    readonly what: string,
  ) {
    this.#byName = new Map(header.tensors.map((t) => [t.name, t]));
    for (const t of header.tensors) this.#checkExtent(t);
  }

  /** Parses the header and checks that every tensor's data lies inside `bytes`. */
  static parse(bytes: Uint8Array, what = 'GGUF file'): GgufFile {
    return new GgufFile(bytes, readGgufHeader(bytes, what), what);
  }

  get metadata(): ReadonlyMap<string, GgufValue> {
    return this.header.metadata;
  }

  /** Names of the tensors, in file order. */
  /** Number of values of a tensor. */
  numel(name: string): number {
    return this.info(name).dims.reduce((a, b) => a * b, 1);
  }

  tensorNames(): string[] {
    return this.header.tensors.map((t) => t.name);
  }

  has(name: string): boolean {
    return this.#byName.has(name);
  }

  /** The header entry of a tensor, or throws {@link CorruptFileError} naming the missing tensor. */
  info(name: string): GgufTensorInfo {
    const t = this.#byName.get(name);
    if (!t) throw new CorruptFileError(this.what, `tensor "${name}" is missing`);
    return t;
  }

  /**
   * Dequantizes a tensor to fp32. `expectShape` (row-major) is checked when given; `alloc`
   * provides the output array (default `new Float32Array`). Throws
   * {@link UnsupportedTensorTypeError} for types kvq does not read.
   */
  tensor(
    name: string,
    expectShape?: readonly number[],
    alloc?: (n: number) => Float32Array,
  ): DequantizedTensor {
    const t = this.info(name);
    const shape = [...t.dims].reverse();
    if (expectShape && (expectShape.length !== shape.length || expectShape.some((d, i) => d !== shape[i]))) {
      throw new CorruptFileError(
        this.what,
        `tensor "${name}" has shape [${shape.join(', ')}], expected [${expectShape.join(', ')}]`,
      );
    }
    const count = shape.reduce((a, b) => a * b, 1);
    const dq = DEQUANT[t.type];
    if (!dq) throw new UnsupportedTensorTypeError(this.what, name, t.type);
    const start = this.header.dataOffset + t.offset;
    const out = alloc ? alloc(count) : new Float32Array(count);
    dq(this.bytes.subarray(start, start + byteSize(t)), count, out);
    return { name, data: out, shape, type: t.type };
  }

  #checkExtent(t: GgufTensorInfo): void {
    const block = SUPPORTED_BLOCKS.get(t.type);
    if (!block) return; // reported when the tensor is read
    const count = t.dims.reduce((a, b) => a * b, 1);
    if (t.dims[0]! % block.values !== 0) {
      throw new CorruptFileError(
        this.what,
        `tensor "${t.name}": row length ${t.dims[0]} is not a multiple of the ${ggmlTypeName(t.type)} block (${block.values})`,
      );
    }
    if (t.offset % this.header.alignment !== 0) {
      throw new CorruptFileError(
        this.what,
        `tensor "${t.name}": data offset ${t.offset} is not aligned to ${this.header.alignment}`,
      );
    }
    const end = this.header.dataOffset + t.offset + (count / block.values) * block.bytes;
    if (end > this.bytes.byteLength) {
      throw new CorruptFileError(
        this.what,
        `truncated: tensor "${t.name}" needs bytes up to ${end}, but the file has ${this.bytes.byteLength} bytes`,
      );
    }
  }
}

function byteSize(t: GgufTensorInfo): number {
  const block = SUPPORTED_BLOCKS.get(t.type)!;
  return (t.dims.reduce((a, b) => a * b, 1) / block.values) * block.bytes;
}

/** Reads and parses a GGUF file from disk (Node only). Missing files give a readable KvqError. */
export async function readGgufFile(path: string): Promise<GgufFile> {
  const { readFile } = await import('node:fs/promises');
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InvalidArgumentError(
      `cannot read GGUF file ${path}: ${code === 'ENOENT' ? 'no such file' : String(err)}`,
    );
  }
  return GgufFile.parse(bytes, path);
}
