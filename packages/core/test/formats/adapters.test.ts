import { describe, expect, it } from 'vitest';
import {
  AdapterMismatchError,
  CorruptFileError,
  InvalidArgumentError,
  NonFiniteError,
  ShapeError,
  UnsupportedVersionError,
} from '../../src/errors.js';
import {
  crc32,
  crc32Hex,
  decodeAdapters,
  decodeSafetensors,
  encodeAdapters,
  encodeSafetensors,
  safetensorToFloat32,
} from '../../src/formats/index.js';
import type { KVLayout } from '../../src/layout.js';
import type { AquaAdapters, LayerAdapter } from '../../src/predictors/types.js';
import { SeededRandom } from '../../src/random.js';
import { expectTypedOrOk, mutate, randInt, thrown } from './helpers.js';

const LAYOUT: KVLayout = { layers: 3, queryHeads: 4, kvHeads: 2, headDim: 4 };

function layer(rng: SeededRandom, c: number): LayerAdapter {
  return {
    keyWeight: rng.normalArray(c * c),
    keyBias: rng.normalArray(c),
    valueWeight: rng.normalArray(c * 2 * c),
    valueBias: rng.normalArray(c),
  };
}

function makeAdapters(rng: SeededRandom, layout = LAYOUT, withCalibration = true): AquaAdapters {
  const c = layout.kvHeads * layout.headDim;
  const layers = [null, ...Array.from({ length: layout.layers - 1 }, () => layer(rng, c))];
  return {
    layout,
    model: { name: 'kvq-ref-35M', fingerprint: 'abc123' },
    layers,
    ...(withCalibration ? { calibration: { text: 'war_and_peace', tokens: 4096, lambda: 1e-3 } } : {}),
  };
}

/** Rewrites an adapter file's metadata (and recomputes nothing unless asked). */
function withMetadata(file: Uint8Array, edit: (m: Record<string, string>) => void): Uint8Array {
  const d = decodeSafetensors(file);
  const meta = { ...d.metadata };
  edit(meta);
  const tensors = Object.fromEntries(
    Object.entries(d.tensors).map(([k, t]) => [k, { ...t, data: t.data.slice() }]),
  );
  return encodeSafetensors(tensors, meta);
}

describe('adapter file', () => {
  it('round-trips adapters exactly, with null layers and optional calibration', () => {
    const rng = new SeededRandom(5);
    for (const layout of [LAYOUT, { layers: 5, queryHeads: 3, kvHeads: 3, headDim: 2 }]) {
      for (const cal of [true, false]) {
        const a = makeAdapters(rng, layout, cal);
        const layers = [...a.layers];
        if (layout.layers > 3) layers[2] = null; // an anchor layer without predictor
        const input = { ...a, layers };
        const back = decodeAdapters(encodeAdapters(input), { layout, model: { name: 'kvq-ref-35M' } });
        expect(back).toEqual(input);
        for (const l of back.layers) if (l) expect(l.keyWeight).toBeInstanceOf(Float32Array);
      }
    }
  });

  it('stores the documented tensors and metadata', () => {
    const a = makeAdapters(new SeededRandom(6));
    const f = decodeSafetensors(encodeAdapters(a));
    expect(Object.keys(f.tensors).sort()).toEqual([
      'layers.1.key.bias',
      'layers.1.key.weight',
      'layers.1.value.bias',
      'layers.1.value.weight',
      'layers.2.key.bias',
      'layers.2.key.weight',
      'layers.2.value.bias',
      'layers.2.value.weight',
    ]);
    expect(f.tensors['layers.2.value.weight']!.shape).toEqual([8, 16]);
    expect(f.tensors['layers.2.key.weight']!.dtype).toBe('F32');
    expect([...safetensorToFloat32(f.tensors['layers.1.key.bias']!)]).toEqual([...a.layers[1]!.keyBias]);
    expect(f.metadata['kvq.format']).toBe('kvq-adapters');
    expect(f.metadata['kvq.version']).toBe('1');
    expect(JSON.parse(f.metadata['kvq.layout']!)).toEqual(LAYOUT);
    expect(JSON.parse(f.metadata['kvq.model']!)).toEqual({ name: 'kvq-ref-35M', fingerprint: 'abc123' });
    expect(JSON.parse(f.metadata['kvq.calibration']!)).toEqual(a.calibration);
    expect(f.metadata['kvq.checksum']).toBe(crc32Hex(crc32(f.dataBytes)));
  });

  it('refuses adapters for another layout or model, saying expected vs found', () => {
    const file = encodeAdapters(makeAdapters(new SeededRandom(7)));
    const wrongLayout = thrown(() => decodeAdapters(file, { layout: { ...LAYOUT, headDim: 8 } }));
    expect(wrongLayout).toBeInstanceOf(AdapterMismatchError);
    expect((wrongLayout as Error).message).toMatch(
      /fitted for layout \{layers: 3, queryHeads: 4, kvHeads: 2, headDim: 4\}.*expected layout \{layers: 3, queryHeads: 4, kvHeads: 2, headDim: 8\}/,
    );
    const wrongModel = thrown(() => decodeAdapters(file, { model: { name: 'stories260K' } }));
    expect(wrongModel).toBeInstanceOf(AdapterMismatchError);
    expect((wrongModel as Error).message).toMatch(
      /fitted for model "kvq-ref-35M" \(fingerprint abc123\), expected model "stories260K"/,
    );
    expect(
      thrown(() => decodeAdapters(file, { model: { name: 'kvq-ref-35M', fingerprint: 'other' } })),
    ).toBeInstanceOf(AdapterMismatchError);
    expect(
      decodeAdapters(file, { model: { name: 'kvq-ref-35M', fingerprint: 'abc123' }, layout: LAYOUT }).model
        .name,
    ).toBe('kvq-ref-35M');
  });

  it('wrong version → UnsupportedVersionError; bad format tag, checksum, metadata or tensors → CorruptFileError', () => {
    const file = encodeAdapters(makeAdapters(new SeededRandom(8)));
    const v2 = thrown(() =>
      decodeAdapters(
        withMetadata(file, (m) => {
          m['kvq.version'] = '2';
        }),
      ),
    );
    expect(v2).toBeInstanceOf(UnsupportedVersionError);
    expect((v2 as Error).message).toMatch(/version 2 is not supported \(this build reads 1\)/);

    const cases: [string, (m: Record<string, string>) => void, RegExp][] = [
      [
        'format',
        (m) => {
          m['kvq.format'] = 'other';
        },
        /"kvq.format" is "other", expected "kvq-adapters"/,
      ],
      ['no format', (m) => Reflect.deleteProperty(m, 'kvq.format'), /"kvq.format" is missing/],
      [
        'version text',
        (m) => {
          m['kvq.version'] = '1.0';
        },
        /"kvq.version" is "1.0", expected an integer/,
      ],
      [
        'checksum',
        (m) => {
          m['kvq.checksum'] = '00000000';
        },
        /checksum mismatch \(stored 00000000/,
      ],
      ['no checksum', (m) => Reflect.deleteProperty(m, 'kvq.checksum'), /"kvq.checksum" is missing/],
      [
        'layout json',
        (m) => {
          m['kvq.layout'] = '{';
        },
        /"kvq.layout": is not valid JSON/,
      ],
      [
        'layout values',
        (m) => {
          m['kvq.layout'] = '{"layers":3,"queryHeads":3,"kvHeads":2,"headDim":4}';
        },
        /multiple of kvHeads/,
      ],
      [
        'model',
        (m) => {
          m['kvq.model'] = '{"name":5}';
        },
        /"kvq.model": name must be a non-empty string/,
      ],
      [
        'calibration',
        (m) => {
          m['kvq.calibration'] = '[1]';
        },
        /"kvq.calibration" is not a JSON object/,
      ],
      [
        'layer count',
        (m) => {
          m['kvq.layout'] = JSON.stringify({ ...LAYOUT, layers: 2 });
        },
        /unexpected tensors "layers.2/,
      ],
      [
        'channels',
        (m) => {
          m['kvq.layout'] = JSON.stringify({ ...LAYOUT, headDim: 2, queryHeads: 2 });
        },
        /has shape \[8, 8\], expected \[4, 4\]/,
      ],
    ];
    for (const [label, edit, re] of cases) {
      const e = thrown(() => decodeAdapters(withMetadata(file, edit)));
      expect(e, label).toBeInstanceOf(CorruptFileError);
      expect((e as Error).message, label).toMatch(re);
    }

    // a flipped bit in the weights is caught by the checksum
    const flipped = file.slice();
    flipped[flipped.length - 3]! ^= 0x10;
    expect((thrown(() => decodeAdapters(flipped)) as Error).message).toMatch(/checksum mismatch/);
  });

  it('rejects incomplete layers, foreign tensors and NaN weights in a file with a valid checksum', () => {
    const rng = new SeededRandom(9);
    const good = decodeSafetensors(encodeAdapters(makeAdapters(rng)));
    const rebuild = (
      edit: (t: Record<string, { dtype: 'F32' | 'U8'; shape: number[]; data: Uint8Array }>) => void,
    ) => {
      const t = Object.fromEntries(
        Object.entries(good.tensors).map(([k, v]) => [
          k,
          { dtype: v.dtype as 'F32', shape: [...v.shape], data: v.data.slice() },
        ]),
      );
      edit(t);
      const draft = encodeSafetensors(t, { ...good.metadata });
      const sum = crc32Hex(crc32(decodeSafetensors(draft).dataBytes));
      return encodeSafetensors(t, { ...good.metadata, 'kvq.checksum': sum });
    };
    const cases: [
      (t: Record<string, { dtype: 'F32' | 'U8'; shape: number[]; data: Uint8Array }>) => void,
      RegExp,
    ][] = [
      [
        (t) => Reflect.deleteProperty(t, 'layers.1.value.bias'),
        /layer 1 is incomplete: missing layers.1.value.bias/,
      ],
      [
        (t) => {
          t.extra = { dtype: 'U8', shape: [1], data: Uint8Array.of(1) };
        },
        /unexpected tensor "extra"/,
      ],
      [
        (t) => {
          t['layers.0.key.bias'] = { dtype: 'F32', shape: [1], data: new Uint8Array(4) };
        },
        /unexpected tensor "layers.0.key.bias"/,
      ],
      [
        (t) => new DataView(t['layers.2.key.bias']!.data.buffer).setFloat32(4, Number.NaN, true),
        /non-finite value NaN at index 1/,
      ],
      [
        (t) => {
          t['layers.1.key.bias'] = { dtype: 'U8', shape: [32], data: new Uint8Array(32) };
        },
        /dtype U8, expected F32/,
      ],
    ];
    for (const [edit, re] of cases) {
      const e = thrown(() => decodeAdapters(rebuild(edit)));
      expect(e).toBeInstanceOf(CorruptFileError);
      expect((e as Error).message).toMatch(re);
    }
  });

  it('refuses bad adapters on encode with typed errors', () => {
    const rng = new SeededRandom(10);
    const a = makeAdapters(rng);
    expect(thrown(() => encodeAdapters({ ...a, layers: a.layers.slice(1) }))).toBeInstanceOf(
      InvalidArgumentError,
    );
    expect(
      thrown(() => encodeAdapters({ ...a, layers: [layer(rng, 8), ...a.layers.slice(1)] })),
    ).toBeInstanceOf(InvalidArgumentError);
    expect(thrown(() => encodeAdapters({ ...a, model: { name: '' } }))).toBeInstanceOf(InvalidArgumentError);
    expect(thrown(() => encodeAdapters({ ...a, layout: { ...a.layout, kvHeads: 3 } }))).toBeInstanceOf(
      InvalidArgumentError,
    );
    expect(thrown(() => encodeAdapters({ ...a, calibration: { seconds: Number.NaN } }))).toBeInstanceOf(
      InvalidArgumentError,
    );
    const short = { ...layer(rng, 8), keyWeight: new Float32Array(63) };
    const e = thrown(() => encodeAdapters({ ...a, layers: [null, short, null] }));
    expect(e).toBeInstanceOf(ShapeError);
    expect((e as Error).message).toMatch(/layers\[1\]\.keyWeight: expected shape \[8, 8\], got \[63\]/);
    const nan = layer(rng, 8);
    nan.valueBias[3] = Number.POSITIVE_INFINITY;
    expect(thrown(() => encodeAdapters({ ...a, layers: [null, nan, null] }))).toBeInstanceOf(NonFiniteError);
  });

  it('fuzz: 3000 seeded corruptions give CorruptFileError or UnsupportedVersionError, never anything else', () => {
    const rng = new SeededRandom(31337);
    const tally = { ok: 0, corrupt: 0, version: 0 };
    for (let i = 0; i < 3000; i++) {
      const layout = { layers: 1 + randInt(rng, 3), queryHeads: 2, kvHeads: 1, headDim: 1 + randInt(rng, 3) };
      const { bytes, how } = mutate(rng, encodeAdapters(makeAdapters(rng, layout, rng.next() < 0.5)));
      tally[expectTypedOrOk(() => decodeAdapters(bytes, { layout }), `case ${i} (${how})`)]++;
    }
    // only padding spaces of the header are not covered by structure or checksum
    expect(tally.ok).toBeLessThan(150);
    expect(tally.corrupt).toBeGreaterThan(2500);
    // wrong versions through the metadata path
    for (let v = 0; v < 50; v++) {
      const f = withMetadata(encodeAdapters(makeAdapters(rng)), (m) => {
        m['kvq.version'] = String(v === 1 ? 1000 : v);
      });
      expect(thrown(() => decodeAdapters(f))).toBeInstanceOf(UnsupportedVersionError);
    }
  });
});
