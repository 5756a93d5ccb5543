import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AdapterMismatchError,
  CorruptFileError,
  InvalidArgumentError,
  ShapeError,
} from '../../src/errors.js';
import { encodeAdapters } from '../../src/formats/index.js';
import {
  FileAccessError,
  FileNotFoundError,
  loadAdapters,
  readFileBytes,
  saveAdapters,
  writeFileAtomic,
} from '../../src/node.js';
import type { AquaAdapters } from '../../src/predictors/types.js';
import { SeededRandom } from '../../src/random.js';
import { randomBytes } from './helpers.js';

let dir: string;
let n = 0;
/** A fresh empty folder per test, so "no temp file left" is checked by listing it. */
async function freshDir(): Promise<string> {
  const d = join(dir, `t${n++}`);
  await mkdir(d);
  return d;
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  return null;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kvq-formats-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('writeFileAtomic / readFileBytes', () => {
  it('writes bytes and chunk iterables, replacing an existing file, leaving no temp file', async () => {
    const d = await freshDir();
    const p = join(d, 'a.bin');
    const rng = new SeededRandom(1);
    const first = randomBytes(rng, 1000);
    await writeFileAtomic(p, first);
    expect([...(await readFileBytes(p))]).toEqual([...first]);
    const chunks = [randomBytes(rng, 10), randomBytes(rng, 0), randomBytes(rng, 70000)];
    await writeFileAtomic(p, chunks);
    const back = await readFileBytes(p);
    expect(back.length).toBe(70010);
    expect([...back.subarray(0, 10)]).toEqual([...chunks[0]!]);
    expect(back.byteOffset % 8).toBe(0);
    async function* gen() {
      yield Uint8Array.of(1, 2);
      yield Uint8Array.of(3);
    }
    await writeFileAtomic(p, gen());
    expect([...(await readFile(p))]).toEqual([1, 2, 3]);
    expect(await readdir(d)).toEqual(['a.bin']);
  });

  it('a failure mid-write (throwing iterable) leaves the old file intact and no temp file', async () => {
    const d = await freshDir();
    const p = join(d, 'keep.bin');
    await writeFile(p, 'old contents');
    const boom = new Error('source failed');
    function* failing() {
      yield new Uint8Array(100000).fill(7); // a large chunk really reaches the temp file first
      throw boom;
    }
    expect(await rejection(writeFileAtomic(p, failing()))).toBe(boom);
    expect(await readFile(p, 'utf8')).toBe('old contents');
    expect(await readdir(d)).toEqual(['keep.bin']);

    async function* failingAsync() {
      yield Uint8Array.of(1);
      throw boom;
    }
    const fresh = join(d, 'new.bin');
    expect(await rejection(writeFileAtomic(fresh, failingAsync()))).toBe(boom);
    expect(await readdir(d)).toEqual(['keep.bin']); // never a half-written target

    const bad = await rejection(writeFileAtomic(fresh, [Uint8Array.of(1), [2] as unknown as Uint8Array]));
    expect(bad).toBeInstanceOf(InvalidArgumentError);
    expect((bad as Error).message).toMatch(/chunk 1 is not a Uint8Array/);
    expect(await readdir(d)).toEqual(['keep.bin']);
  });

  it('a failure at rename (target is a directory) removes the temp file and throws FileAccessError', async () => {
    const d = await freshDir();
    const target = join(d, 'sub');
    await mkdir(target);
    await writeFile(join(target, 'inner'), 'x');
    const e = await rejection(writeFileAtomic(target, Uint8Array.of(1, 2, 3)));
    expect(e).toBeInstanceOf(FileAccessError);
    expect((e as Error).message).toContain(target);
    expect(await readdir(d)).toEqual(['sub']);
    expect(await readdir(target)).toEqual(['inner']);
  });

  it('a missing folder → FileAccessError naming the path', async () => {
    const p = join(dir, 'no-such-folder', 'x.bin');
    const e = await rejection(writeFileAtomic(p, Uint8Array.of(1)));
    expect(e).toBeInstanceOf(FileAccessError);
    expect((e as Error).message).toBe(`cannot access ${p}: its folder does not exist`);
  });

  it('readFileBytes: ENOENT → FileNotFoundError, a directory → FileAccessError', async () => {
    const p = join(dir, 'missing.bin');
    const e = await rejection(readFileBytes(p));
    expect(e).toBeInstanceOf(FileNotFoundError);
    expect((e as FileNotFoundError).code).toBe('INVALID_ARGUMENT');
    expect((e as Error).message).toBe(`no such file: ${p}`);
    expect(await rejection(readFileBytes(dir))).toBeInstanceOf(FileAccessError);
  });
});

describe('saveAdapters / loadAdapters', () => {
  const rng = new SeededRandom(2);
  const layout = { layers: 2, queryHeads: 2, kvHeads: 1, headDim: 4 };
  const adapters: AquaAdapters = {
    layout,
    model: { name: 'stories260K' },
    layers: [
      null,
      {
        keyWeight: rng.normalArray(16),
        keyBias: rng.normalArray(4),
        valueWeight: rng.normalArray(32),
        valueBias: rng.normalArray(4),
      },
    ],
    calibration: { tokens: 128 },
  };

  it('round-trips through a file', async () => {
    const d = await freshDir();
    const p = join(d, 'adapters.safetensors');
    await saveAdapters(p, adapters);
    expect(await loadAdapters(p, { layout, model: { name: 'stories260K' } })).toEqual(adapters);
    expect([...(await readFile(p))]).toEqual([...encodeAdapters(adapters)]);
    expect(await readdir(d)).toEqual(['adapters.safetensors']);
  });

  it('load errors are typed and name the path', async () => {
    const d = await freshDir();
    const p = join(d, 'adapters.safetensors');
    await saveAdapters(p, adapters);
    const mismatch = await rejection(loadAdapters(p, { model: { name: 'kvq-ref-35M' } }));
    expect(mismatch).toBeInstanceOf(AdapterMismatchError);
    expect((mismatch as Error).message).toMatch(
      new RegExp(
        `^${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: adapters were fitted for model "stories260K"`,
      ),
    );
    const bytes = await readFile(p);
    await writeFile(p, bytes.subarray(0, bytes.length - 5));
    expect(await rejection(loadAdapters(p))).toBeInstanceOf(CorruptFileError);
    expect(await rejection(loadAdapters(join(d, 'none')))).toBeInstanceOf(FileNotFoundError);
    // a failed save leaves the previous file
    await saveAdapters(p, adapters);
    const bad = { ...adapters, layers: [null, { ...adapters.layers[1]!, keyBias: new Float32Array(3) }] };
    expect(await rejection(saveAdapters(p, bad))).toBeInstanceOf(ShapeError);
    expect(await loadAdapters(p)).toEqual(adapters);
  });
});
