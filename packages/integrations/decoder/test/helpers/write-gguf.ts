/** A minimal GGUF v3 writer for tests (little-endian, alignment 32). */
export type TestValue =
  | { type: 'u32'; value: number }
  | { type: 'f32'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'strings'; value: string[] }
  | { type: 'f32s'; value: number[] }
  | { type: 'i32s'; value: number[] };

export interface TestTensor {
  name: string;
  /** GGUF dims: dims[0] contiguous */
  dims: number[];
  type: number;
  data: Uint8Array;
}

export function writeGguf(
  metadata: Record<string, TestValue>,
  tensors: TestTensor[],
  version = 3,
): Uint8Array {
  const parts: number[] = [];
  const te = new TextEncoder();
  const u32 = (v: number) => {
    const b = new DataView(new ArrayBuffer(4));
    b.setUint32(0, v, true);
    parts.push(...new Uint8Array(b.buffer));
  };
  const u64 = (v: number) => {
    const b = new DataView(new ArrayBuffer(8));
    b.setBigUint64(0, BigInt(v), true);
    parts.push(...new Uint8Array(b.buffer));
  };
  const f32 = (v: number) => {
    const b = new DataView(new ArrayBuffer(4));
    b.setFloat32(0, v, true);
    parts.push(...new Uint8Array(b.buffer));
  };
  const str = (s: string) => {
    const b = te.encode(s);
    u64(b.length);
    parts.push(...b);
  };
  u32(0x46554747);
  u32(version);
  u64(tensors.length);
  u64(Object.keys(metadata).length);
  for (const [k, v] of Object.entries(metadata)) {
    str(k);
    switch (v.type) {
      case 'u32':
        u32(4);
        u32(v.value);
        break;
      case 'f32':
        u32(6);
        f32(v.value);
        break;
      case 'bool':
        u32(7);
        parts.push(v.value ? 1 : 0);
        break;
      case 'string':
        u32(8);
        str(v.value);
        break;
      case 'strings':
        u32(9);
        u32(8);
        u64(v.value.length);
        for (const s of v.value) str(s);
        break;
      case 'f32s':
        u32(9);
        u32(6);
        u64(v.value.length);
        for (const x of v.value) f32(x);
        break;
      case 'i32s':
        u32(9);
        u32(5);
        u64(v.value.length);
        for (const x of v.value) u32(x >>> 0);
        break;
    }
  }
  let offset = 0;
  const offsets: number[] = [];
  for (const t of tensors) {
    offsets.push(offset);
    offset += Math.ceil(t.data.length / 32) * 32;
  }
  tensors.forEach((t, i) => {
    str(t.name);
    u32(t.dims.length);
    for (const d of t.dims) u64(d);
    u32(t.type);
    u64(offsets[i]!);
  });
  while (parts.length % 32 !== 0) parts.push(0);
  const header = parts.length;
  const out = new Uint8Array(header + offset);
  out.set(parts);
  tensors.forEach((t, i) => out.set(t.data, header + offsets[i]!));
  return out;
}

/** f32 values as little-endian bytes. */
export function f32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}
