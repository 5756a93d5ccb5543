import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CorruptFileError,
  InvalidArgumentError,
  OutOfMemoryError,
  UnsupportedVersionError,
} from '../../src/errors.js';
import { allocBytes } from '../../src/formats/byte-reader.js';
import { crc32, decodeContainer, encodeContainer } from '../../src/formats/index.js';
import { SeededRandom } from '../../src/random.js';
import { expectTypedOrOk, mutate, randInt, randomBytes, thrown } from './helpers.js';

const CACHE = { kind: 'kvq-cache', versions: [1] } as const;

function sample(rng: SeededRandom) {
  const sections = Array.from({ length: randInt(rng, 5) }, () => randomBytes(rng, randInt(rng, 40)));
  return encodeContainer({
    kind: 'kvq-cache',
    version: 1,
    header: {
      preset: 'kivi-2',
      tokens: randInt(rng, 1000),
      layout: { layers: 2, heads: [1, 2] },
      note: 'ü✓',
    },
    sections,
  });
}

describe('container', () => {
  it('has the documented byte layout', () => {
    const f = encodeContainer({
      kind: 'kvq-cache',
      version: 3,
      header: { a: 1 },
      sections: [Uint8Array.of(9, 8, 7)],
    });
    const dv = new DataView(f.buffer);
    expect(new TextDecoder().decode(f.subarray(0, 4))).toBe('KVQC');
    expect(dv.getUint16(4, true)).toBe(3);
    expect(dv.getUint16(6, true)).toBe(0);
    expect(dv.getUint32(8, true)).toBe(7); // '{"a":1}'
    expect(new TextDecoder().decode(f.subarray(12, 19))).toBe('{"a":1}');
    expect(dv.getUint32(19, true)).toBe(1); // section count
    expect(dv.getBigUint64(23, true)).toBe(3n);
    expect(dv.getUint32(31, true)).toBe(crc32(Uint8Array.of(9, 8, 7)));
    expect(dv.getUint32(35, true)).toBe(crc32(f.subarray(0, 35)));
    // prefix ends at 39, padded to 40; section at 40..43, padded to 48
    expect(f.length).toBe(48);
    expect([...f.subarray(39, 40)]).toEqual([0]);
    expect([...f.subarray(40, 43)]).toEqual([9, 8, 7]);
    expect(
      new TextDecoder().decode(
        encodeContainer({ kind: 'kvq-adapters', version: 1, header: {}, sections: [] }).subarray(0, 4),
      ),
    ).toBe('KVQA');
  });

  it('round-trips header and sections (property)', () => {
    const json = fc.jsonValue().filter((v) => !Object.is(v, -0));
    fc.assert(
      fc.property(
        fc.dictionary(fc.string(), json),
        fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 6 }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.constantFrom('kvq-cache' as const, 'kvq-adapters' as const),
        (header, sections, version, kind) => {
          const f = encodeContainer({ kind, version, header, sections });
          const d = decodeContainer(f, { kind, versions: [version] });
          expect(d.version).toBe(version);
          expect(d.header).toEqual(JSON.parse(JSON.stringify(header)));
          expect(d.sections.map((s) => [...s])).toEqual(sections.map((s) => [...s]));
          for (const s of d.sections) expect((s.byteOffset - f.byteOffset) % 8).toBe(0);
          expect(f.length % 8).toBe(0);
        },
      ),
      { seed: 11, numRuns: 300 },
    );
  });

  it('accepts a header typed by an interface (checked at run time instead)', () => {
    interface SnapshotHeader {
      preset: string;
      tokens: number;
      layers: number[];
    }
    const h: SnapshotHeader = { preset: 'kivi-2', tokens: 3, layers: [1, 2] };
    const f = encodeContainer({ kind: 'kvq-cache', version: 1, header: h, sections: [] });
    expect(decodeContainer(f, CACHE).header).toEqual(h);
    expect(
      thrown(() => encodeContainer({ kind: 'kvq-cache', version: 1, header: [1], sections: [] })),
    ).toBeInstanceOf(InvalidArgumentError);
  });

  it('reads a file given as a view at an odd offset of a larger buffer', () => {
    const f = encodeContainer({
      kind: 'kvq-cache',
      version: 1,
      header: { x: 'y' },
      sections: [Uint8Array.of(1, 2)],
    });
    const big = new Uint8Array(f.length + 5);
    big.set(f, 3);
    const d = decodeContainer(big.subarray(3, 3 + f.length), CACHE);
    expect([...d.sections[0]!]).toEqual([1, 2]);
  });

  it('names what is wrong', () => {
    const f = encodeContainer({
      kind: 'kvq-cache',
      version: 1,
      header: { a: 1 },
      sections: [Uint8Array.of(1, 2, 3)],
    });
    const wrongKind = thrown(() => decodeContainer(f, { kind: 'kvq-adapters', versions: [1] }));
    expect(wrongKind).toBeInstanceOf(CorruptFileError);
    expect((wrongKind as Error).message).toMatch(/wrong magic "KVQC" \(expected "KVQA"\)/);

    const v2 = thrown(() => decodeContainer(f, { kind: 'kvq-cache', versions: [2, 3] }));
    expect(v2).toBeInstanceOf(UnsupportedVersionError);
    expect((v2 as Error).message).toMatch(/version 1 is not supported \(this build reads 2, 3\)/);

    expect((thrown(() => decodeContainer(f.subarray(0, 30), CACHE)) as Error).message).toMatch(/truncated/);
    expect((thrown(() => decodeContainer(f.subarray(0, 44), CACHE)) as Error).message).toMatch(/section 0/);

    const badSection = f.slice();
    badSection[40]! ^= 1;
    expect((thrown(() => decodeContainer(badSection, CACHE)) as Error).message).toMatch(
      /section 0 checksum mismatch/,
    );

    const badHeader = f.slice();
    badHeader[13]! ^= 2; // inside '{"a":1}'
    expect((thrown(() => decodeContainer(badHeader, CACHE)) as Error).message).toMatch(
      /header checksum mismatch/,
    );

    const trailing = new Uint8Array(f.length + 8);
    trailing.set(f);
    expect((thrown(() => decodeContainer(trailing, CACHE)) as Error).message).toMatch(/trailing/);

    const badPad = f.slice();
    badPad[f.length - 1] = 1;
    expect((thrown(() => decodeContainer(badPad, CACHE)) as Error).message).toMatch(/padding/);

    const huge = f.slice();
    new DataView(huge.buffer).setUint32(8, 0xffffffff, true);
    expect((thrown(() => decodeContainer(huge, CACHE)) as Error).message).toMatch(
      /truncated: header needs 4294967295/,
    );

    const hugeSection = f.slice();
    new DataView(hugeSection.buffer).setBigUint64(23, 0xffffffffffffffffn, true);
    expect(thrown(() => decodeContainer(hugeSection, CACHE))).toBeInstanceOf(CorruptFileError);
  });

  it('rejects a header that is valid CRC but not a JSON object', () => {
    // a well-formed file whose header is an array: build it by hand with correct checksums
    const head = new TextEncoder().encode('[1]');
    const f = new Uint8Array(32);
    const dv = new DataView(f.buffer);
    f.set(new TextEncoder().encode('KVQC'));
    dv.setUint16(4, 1, true);
    dv.setUint32(8, head.length, true);
    f.set(head, 12);
    dv.setUint32(15, 0, true);
    dv.setUint32(19, crc32(f.subarray(0, 19)), true);
    const d = thrown(() => decodeContainer(f.subarray(0, 24), CACHE));
    expect(d).toBeInstanceOf(CorruptFileError);
    expect((d as Error).message).toMatch(/not a JSON object/);
  });

  it('refuses to encode what JSON would silently change', () => {
    const enc = (header: Record<string, unknown>) =>
      thrown(() => encodeContainer({ kind: 'kvq-cache', version: 1, header, sections: [] }));
    expect(enc({ x: Number.NaN })).toBeInstanceOf(InvalidArgumentError);
    expect(enc({ x: undefined })).toBeInstanceOf(InvalidArgumentError);
    expect(enc({ x: new Float32Array(2) })).toBeInstanceOf(InvalidArgumentError);
    expect(enc({ x: new Date() })).toBeInstanceOf(InvalidArgumentError);
    let deep: unknown = 1;
    for (let i = 0; i < 200_000; i++) deep = [deep];
    const deepErr = enc({ deep });
    expect(deepErr).toBeInstanceOf(InvalidArgumentError);
    expect((deepErr as Error).message).toMatch(/nested too deeply/);
    const cyc: Record<string, unknown> = {};
    cyc.self = cyc;
    expect(enc(cyc)).toBeInstanceOf(InvalidArgumentError);
    expect(
      thrown(() => encodeContainer({ kind: 'kvq-cache', version: 70000, header: {}, sections: [] })),
    ).toBeInstanceOf(InvalidArgumentError);
    expect(
      thrown(() => encodeContainer({ kind: 'nope' as 'kvq-cache', version: 1, header: {}, sections: [] })),
    ).toBeInstanceOf(InvalidArgumentError);
    expect(
      thrown(() =>
        encodeContainer({
          kind: 'kvq-cache',
          version: 1,
          header: {},
          sections: [[1, 2] as unknown as Uint8Array],
        }),
      ),
    ).toBeInstanceOf(InvalidArgumentError);
  });

  it('fuzz: 4000 seeded corruptions give a typed error, never another exception', () => {
    const rng = new SeededRandom(2026);
    const tally = { ok: 0, corrupt: 0, version: 0 };
    for (let i = 0; i < 4000; i++) {
      const { bytes, how } = mutate(rng, sample(rng));
      tally[expectTypedOrOk(() => decodeContainer(bytes, CACHE), `case ${i} (${how})`)]++;
    }
    // every mutation changes the bytes, and every byte is covered by a CRC, padding check or
    // length check, so no mutated file may decode
    expect(tally.ok).toBe(0);
    expect(tally.corrupt).toBeGreaterThan(3500);
    expect(tally.version).toBeGreaterThan(0);
  });

  it('fuzz: 3000 seeded random garbage inputs (some with a valid magic) give CorruptFileError', () => {
    const rng = new SeededRandom(99);
    for (let i = 0; i < 3000; i++) {
      const b = randomBytes(rng, randInt(rng, 200));
      if (i % 2 === 0 && b.length >= 8) {
        b.set(new TextEncoder().encode('KVQC'));
        b[4] = 1;
        b[5] = 0;
      }
      const e = thrown(() => decodeContainer(b, CACHE));
      if (!(e instanceof CorruptFileError || e instanceof UnsupportedVersionError)) {
        expect.fail(`garbage case ${i}: ${String(e)}`);
      }
    }
  });
});

describe('allocBytes', () => {
  it('reports an impossible allocation as OutOfMemoryError', () => {
    const e = thrown(() => allocBytes('test buffer', 2 ** 53 - 1));
    expect(e).toBeInstanceOf(OutOfMemoryError);
    expect((e as Error).message).toMatch(/test buffer: out of memory \(requested 9007199254740991 bytes\)/);
    expect(allocBytes('small', 3).length).toBe(3);
  });
});
