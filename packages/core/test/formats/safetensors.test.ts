import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CorruptFileError, DTypeError, InvalidArgumentError, ShapeError } from '../../src/errors.js';
import { toBfloat16Bits, toFloat16Bits } from '../../src/float16.js';
import {
  type SafetensorsDType,
  type SafetensorsTensorInput,
  decodeSafetensors,
  encodeSafetensors,
  safetensorToFloat32,
} from '../../src/formats/index.js';
import { SeededRandom } from '../../src/random.js';
import { expectTypedOrOk, mutate, randInt, randomBytes, thrown } from './helpers.js';

const enc = new TextEncoder();

/** A file built by hand: u64 header length, header text, data bytes. */
function rawFile(header: string, data: Uint8Array | number = 0): Uint8Array {
  const h = enc.encode(header);
  const d = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + h.length + d.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(d, 8 + h.length);
  return out;
}

function message(f: () => unknown): string {
  const e = thrown(f);
  expect(e).toBeInstanceOf(CorruptFileError);
  return (e as Error).message;
}

describe('safetensors', () => {
  it('reads the reference implementation’s test file', () => {
    // from huggingface/safetensors' own deserialization test (a 2×2 I32 tensor of zeros, unpadded header)
    const f = rawFile('{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}', 16);
    expect(f[0]).toBe(0x3c);
    const d = decodeSafetensors(f);
    expect(Object.keys(d.tensors)).toEqual(['test']);
    expect(d.tensors.test!.dtype).toBe('I32');
    expect(d.tensors.test!.shape).toEqual([2, 2]);
    expect([...d.tensors.test!.data]).toEqual(new Array(16).fill(0));
    expect(Object.keys(d.metadata)).toEqual([]);
  });

  it('writes the layout the spec describes (byte-exact)', () => {
    const f = encodeSafetensors(
      { 'attn.0': { dtype: 'F32', shape: [1, 1, 2, 3], data: Float32Array.of(0, 1, 2, 3, 4, 5) } },
      { framework: 'pt' },
    );
    const json =
      '{"__metadata__":{"framework":"pt"},"attn.0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}';
    const padded = json + ' '.repeat((8 - ((8 + json.length) % 8)) % 8);
    const expected = rawFile(padded, new Uint8Array(Float32Array.of(0, 1, 2, 3, 4, 5).buffer));
    expect([...f]).toEqual([...expected]);
    expect((8 + padded.length) % 8).toBe(0);
  });

  it('round-trips every dtype, empty and scalar tensors, metadata (property)', () => {
    const dtypes: SafetensorsDType[] = ['F32', 'F16', 'BF16', 'F64', 'I32', 'U8'];
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.dictionary(fc.string(), fc.string()),
        (seed, metadata) => {
          const rng = new SeededRandom(seed);
          const tensors: Record<string, SafetensorsTensorInput> = {};
          const count = randInt(rng, 6);
          for (let i = 0; i < count; i++) {
            const dtype = dtypes[randInt(rng, dtypes.length)]!;
            const shape = Array.from({ length: randInt(rng, 4) }, () => randInt(rng, 5));
            const n = shape.reduce((a, b) => a * b, 1);
            const f = rng.normalArray(n);
            const data =
              dtype === 'F32'
                ? f
                : dtype === 'F64'
                  ? Float64Array.from(f)
                  : dtype === 'I32'
                    ? Int32Array.from(f, (v) => Math.round(v * 1e6))
                    : dtype === 'U8'
                      ? randomBytes(rng, n)
                      : Uint16Array.from(f, dtype === 'F16' ? toFloat16Bits : toBfloat16Bits);
            tensors[`t${i}.${dtype}`] = { dtype, shape, data };
          }
          const file = encodeSafetensors(tensors, metadata);
          const d = decodeSafetensors(file);
          expect({ ...d.metadata }).toEqual(metadata);
          expect(Object.keys(d.tensors).sort()).toEqual(Object.keys(tensors).sort());
          for (const [name, t] of Object.entries(tensors)) {
            const got = d.tensors[name]!;
            expect(got.dtype).toBe(t.dtype);
            expect(got.shape).toEqual(t.shape);
            expect([...got.data]).toEqual([
              ...new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
            ]);
            // every tensor starts at a multiple of its element size from the (8-aligned) data start
            expect(
              (got.data.byteOffset - file.byteOffset) % (t.dtype === 'F64' ? 8 : t.dtype === 'U8' ? 1 : 2),
            ).toBe(0);
            if (t.dtype === 'F32') expect([...safetensorToFloat32(got)]).toEqual([...t.data]);
            if (t.dtype === 'F64')
              expect([...safetensorToFloat32(got)]).toEqual([...Float32Array.from(t.data as Float64Array)]);
          }
        },
      ),
      { seed: 3, numRuns: 300 },
    );
  });

  it('converts F16 and BF16 to fp32', () => {
    const v = Float32Array.of(1, -2.5, 0.333251953125, 65504, 0);
    const d = decodeSafetensors(
      encodeSafetensors({
        h: { dtype: 'F16', shape: [5], data: Uint16Array.from(v, toFloat16Bits) },
        b: { dtype: 'BF16', shape: [5], data: Uint16Array.from(v, toBfloat16Bits) },
      }),
    );
    expect([...safetensorToFloat32(d.tensors.h!)]).toEqual([1, -2.5, 0.333251953125, 65504, 0]);
    expect([...safetensorToFloat32(d.tensors.b!)]).toEqual([1, -2.5, 0.333984375, 65536, 0]);
    expect(
      thrown(() =>
        safetensorToFloat32(
          decodeSafetensors(encodeSafetensors({ u: { dtype: 'U8', shape: [1], data: Uint8Array.of(1) } }))
            .tensors.u!,
        ),
      ),
    ).toBeInstanceOf(DTypeError);
  });

  it('accepts a header padded with spaces and entries in any order', () => {
    const h =
      '{"b":{"dtype":"U8","shape":[2],"data_offsets":[4,6]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}   ';
    const d = decodeSafetensors(rawFile(h, Uint8Array.of(0, 0, 128, 63, 7, 9)));
    expect([...safetensorToFloat32(d.tensors.a!)]).toEqual([1]);
    expect([...d.tensors.b!.data]).toEqual([7, 9]);
  });

  it('rejects invalid files with a message naming the problem', () => {
    const t = (offs: string, dtype = 'U8', shape = '[2]') =>
      `"${dtype}","shape":${shape},"data_offsets":${offs}`;
    expect(message(() => decodeSafetensors(Uint8Array.of(1, 2, 3)))).toMatch(/truncated: header length/);
    expect(message(() => decodeSafetensors(rawFile('{}').subarray(0, 9)))).toMatch(
      /truncated: header needs 2/,
    );
    const huge = rawFile('{}');
    new DataView(huge.buffer).setBigUint64(0, 0xffffffffffffffffn, true);
    expect(message(() => decodeSafetensors(huge))).toMatch(/larger than any file/);
    new DataView(huge.buffer).setBigUint64(0, 200_000_000n, true);
    expect(message(() => decodeSafetensors(huge))).toMatch(/exceeds the 100000000-byte limit/);
    expect(message(() => decodeSafetensors(rawFile(' {}')))).toMatch(/does not start with "\{"/);
    expect(message(() => decodeSafetensors(rawFile('{"a":')))).toMatch(/not valid JSON/);
    const badUtf8 = rawFile('{"a"}');
    badUtf8[10] = 0xff;
    expect(message(() => decodeSafetensors(badUtf8))).toMatch(/not valid UTF-8/);
    expect(message(() => decodeSafetensors(rawFile('{"a":{"dtype":' + t('[0,2]', 'I64') + '}}', 2)))).toMatch(
      /unsupported dtype "I64"/,
    );
    expect(
      message(() => decodeSafetensors(rawFile('{"a":{"dtype":' + t('[0,2]', 'U8', '[-1]') + '}}', 2))),
    ).toMatch(/shape/);
    expect(message(() => decodeSafetensors(rawFile('{"a":{"dtype":' + t('[2,0]') + '}}', 2)))).toMatch(
      /data_offsets must be/,
    );
    expect(message(() => decodeSafetensors(rawFile('{"a":{"dtype":' + t('[0,3]') + '}}', 2)))).toMatch(
      /past the end/,
    );
    expect(message(() => decodeSafetensors(rawFile('{"a":{"dtype":' + t('[0,3]') + '}}', 3)))).toMatch(
      /needs 2 bytes, data_offsets give 3/,
    );
    expect(message(() => decodeSafetensors(rawFile('{"a":{"dtype":' + t('[0,2]') + '}}', 4)))).toMatch(
      /2 bytes after the last/,
    );
    expect(
      message(() =>
        decodeSafetensors(rawFile(`{"a":{"dtype":${t('[0,2]')}},"b":{"dtype":${t('[1,3]')}}}`, 3)),
      ),
    ).toMatch(/overlaps tensor "a"/);
    expect(
      message(() =>
        decodeSafetensors(rawFile(`{"a":{"dtype":${t('[0,2]')}},"b":{"dtype":${t('[3,5]')}}}`, 5)),
      ),
    ).toMatch(/gap in the data: bytes \[2, 3\)/);
    expect(message(() => decodeSafetensors(rawFile(`{"a":{"dtype":${t('[0,2]')},"x":1}}`, 2)))).toMatch(
      /unknown field "x"/,
    );
    expect(message(() => decodeSafetensors(rawFile('{"__metadata__":{"k":1}}')))).toMatch(
      /"__metadata__"."k" is not a string/,
    );
    expect(message(() => decodeSafetensors(rawFile('[]')))).toMatch(/not start with|not a JSON object/);
    // a shape whose element count overflows any number: still a clean error
    expect(
      message(() =>
        decodeSafetensors(
          rawFile(`{"a":{"dtype":${t('[0,2]', 'F64', '[9007199254740991,9007199254740991,4]')}}}`, 2),
        ),
      ),
    ).toMatch(/needs more than 2 bytes/);
  });

  it('names "__proto__" tensors safely', () => {
    const d = decodeSafetensors(
      rawFile('{"__proto__":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', Uint8Array.of(5)),
    );
    expect([...d.tensors.__proto__!.data]).toEqual([5]);
    expect(Object.getPrototypeOf(d.tensors)).toBeNull();
  });

  it('refuses bad input to the encoder with typed errors', () => {
    expect(
      thrown(() => encodeSafetensors({ a: { dtype: 'F32', shape: [3], data: new Float32Array(2) } })),
    ).toBeInstanceOf(ShapeError);
    expect(
      thrown(() => encodeSafetensors({ a: { dtype: 'F32', shape: [2], data: new Float64Array(2) } })),
    ).toBeInstanceOf(DTypeError);
    expect(
      thrown(() => encodeSafetensors({ a: { dtype: 'F16', shape: [2], data: new Float32Array(2) } })),
    ).toBeInstanceOf(DTypeError);
    expect(
      thrown(() => encodeSafetensors({ a: { dtype: 'X' as 'U8', shape: [2], data: new Uint8Array(2) } })),
    ).toBeInstanceOf(InvalidArgumentError);
    expect(
      thrown(() => encodeSafetensors({ a: { dtype: 'U8', shape: [1.5], data: new Uint8Array(2) } })),
    ).toBeInstanceOf(InvalidArgumentError);
    expect(
      thrown(() => encodeSafetensors({ __metadata__: { dtype: 'U8', shape: [1], data: new Uint8Array(1) } })),
    ).toBeInstanceOf(InvalidArgumentError);
    expect(thrown(() => encodeSafetensors({}, { k: 1 as unknown as string }))).toBeInstanceOf(
      InvalidArgumentError,
    );
    // Uint8Array of raw bytes for any dtype
    const d = decodeSafetensors(
      encodeSafetensors({ a: { dtype: 'F32', shape: [1], data: Uint8Array.of(0, 0, 128, 63) } }),
    );
    expect([...safetensorToFloat32(d.tensors.a!)]).toEqual([1]);
  });

  it('fuzz: 3000 seeded corruptions and 1000 garbage inputs never throw anything but CorruptFileError', () => {
    const rng = new SeededRandom(4242);
    const base = () => {
      const cols = randInt(rng, 4);
      const tensors: Record<string, SafetensorsTensorInput> = {
        w: { dtype: 'F32', shape: [3, cols], data: rng.normalArray(3 * cols) },
        h: { dtype: 'F16', shape: [cols], data: new Uint16Array(cols) },
        i: { dtype: 'I32', shape: [2], data: Int32Array.of(rng.nextUint32() | 0, 7) },
        f: { dtype: 'F64', shape: [], data: Float64Array.of(rng.normal()) },
      };
      const nu = randInt(rng, 6);
      if (nu > 0) tensors.u = { dtype: 'U8', shape: [nu], data: randomBytes(rng, nu) };
      return encodeSafetensors(tensors, { note: 'x'.repeat(randInt(rng, 10)) });
    };
    const tally = { ok: 0, corrupt: 0, version: 0 };
    for (let i = 0; i < 3000; i++) {
      const { bytes, how } = mutate(rng, base());
      tally[expectTypedOrOk(() => decodeSafetensors(bytes), `case ${i} (${how})`)]++;
    }
    // safetensors has no checksum: flips inside tensor data decode fine, so only bound the tally
    expect(tally.corrupt).toBeGreaterThan(1500);
    expect(tally.version).toBe(0);
    for (let i = 0; i < 1000; i++) {
      const g = randomBytes(rng, randInt(rng, 120));
      if (i % 2 === 0 && g.length > 10) {
        new DataView(g.buffer).setBigUint64(0, BigInt(randInt(rng, g.length)), true);
        g[8] = 0x7b;
      }
      expectTypedOrOk(() => decodeSafetensors(g), `garbage ${i}`);
    }
  });
});
