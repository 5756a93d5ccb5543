import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  SeededRandom,
  decodeSafetensors,
  encodeSafetensors,
  safetensorToFloat32,
  toFloat16Bits,
} from '@kvq/core';
import { defaultModelPath } from '@kvq/decoder/node';
import { describe, expect, it } from 'vitest';
import { STORIES, TINY_TEXT, kvq, quickEvalArgs, runProcess } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'kvq-tool-'));
const REF = defaultModelPath(import.meta.dirname);

/** Seeded K/V, fp16 bits per layer, with a few large channels (as real keys have). */
function randomKv(layers: number, tokens: number, kvHeads: number, headDim: number, seed: number) {
  const rng = new SeededRandom(seed);
  const n = tokens * kvHeads * headDim;
  const out: { keys: Uint16Array; values: Uint16Array }[] = [];
  for (let l = 0; l < layers; l++) {
    const k = rng.normalArray(n);
    for (let i = 0; i < n; i += 13) k[i]! *= 8;
    const v = rng.normalArray(n);
    out.push({ keys: Uint16Array.from(k, toFloat16Bits), values: Uint16Array.from(v, toFloat16Bits) });
  }
  return out;
}

function relMse(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += a[i]! ** 2;
  }
  return num / den;
}

describe('--json on stdout, plots as files', () => {
  it('eval --json prints only JSON on stdout and nothing on stderr; --plot .png writes a PNG', async () => {
    const png = join(dir, 'ppl.png');
    const r = await kvq(quickEvalArgs('fp16,kivi-2,k4v2', '--windows', '1', '--json', '--plot', png));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.results.map((x: { preset: string }) => x.preset)).toEqual(['fp16', 'kivi-2', 'k4v2']);
    const bytes = readFileSync(png);
    expect([...bytes.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(bytes.toString('latin1', 12, 16)).toBe('IHDR');
    // rendered at 2× the SVG's size
    expect(bytes.readUInt32BE(16)).toBeGreaterThan(800);
    expect(bytes.readUInt32BE(20)).toBeGreaterThan(600);
    // the saved report is plotted again without running (--results)
    const saved = join(dir, 'report.json');
    writeFileSync(saved, r.stdout);
    const again = join(dir, 'again.svg');
    const p = await kvq(['eval', '--results', saved, '--plot', again]);
    expect(p.code).toBe(0);
    expect(readFileSync(again, 'utf8').match(/aria-roledescription="point"/g)).toHaveLength(2);
    writeFileSync(join(dir, 'other.json'), '{"results": [{"preset": "x"}]}');
    const bad = await kvq(['eval', '--results', join(dir, 'other.json'), '--plot', again]);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toMatch(/^kvq: .*other\.json: not a kvq eval report/);
    expect((await kvq(['eval', '--results', saved])).code).toBe(2); // nothing to draw
  });

  it('the eval SVG has exactly one point per compressed preset', async () => {
    const svg = join(dir, 'ppl.svg');
    const presets = ['fp16', 'kivi-2', 'kivi-4', 'k4v2', 'fp8'];
    const r = await kvq([
      ...quickEvalArgs(presets.join(','), '--windows', '1', '--plot', svg, '--no-progress'),
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`wrote ${svg.replaceAll('.', '\\.')}\\n$`));
    const s = readFileSync(svg, 'utf8');
    expect(s).toMatch(/^<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect(s.trimEnd().endsWith('</svg>')).toBe(true);
    expect(s.match(/aria-roledescription="point"/g)).toHaveLength(presets.length - 1);
    expect(s.match(/aria-roledescription="rule mark"/g)).toHaveLength(1); // the fp16 line
  });

  it('bench --json (cpu) prints the result object; --plot without a GPU result is a usage error', async () => {
    const r = await kvq([
      'bench',
      '--tokens',
      '256',
      '--layers',
      '2',
      '--kv-heads',
      '2',
      '--head-dim',
      '64',
      '--presets',
      'fp16,kivi-2',
      '--json',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.rows.map((x: { preset: string }) => x.preset)).toEqual(['fp16', 'kivi-2']);
    expect(j.rows[1].bitsPerValue).toBe(3);
    expect(j.copyMBps).toBeGreaterThan(0);
    // in a pipe the bench reports progress as plain lines
    const lines = await kvq([
      'bench',
      '--tokens',
      '128',
      '--layers',
      '1',
      '--kv-heads',
      '2',
      '--presets',
      'fp16',
    ]);
    expect(lines.code).toBe(0);
    expect(lines.stderr).toMatch(/^bench: 0\/1 presets \| fp16\nbench: 1\/1 presets \| done\n$/);
    expect((await kvq(['bench', '--presets', 'nope'])).code).toBe(2);
  });
});

describe('compress --kv / decompress round trip on seeded K/V', () => {
  const layers = 3;
  const tokens = 200;
  const kvHeads = 2;
  const headDim = 64;
  const kv = randomKv(layers, tokens, kvHeads, headDim, 7);
  const input = join(dir, 'kv.safetensors');
  const tensors: Record<string, { dtype: 'F16'; shape: number[]; data: Uint16Array }> = {};
  for (let l = 0; l < layers; l++) {
    tensors[`layers.${l}.keys`] = { dtype: 'F16', shape: [tokens, kvHeads, headDim], data: kv[l]!.keys };
    tensors[`layers.${l}.values`] = { dtype: 'F16', shape: [tokens, kvHeads, headDim], data: kv[l]!.values };
  }
  writeFileSync(input, encodeSafetensors(tensors));
  const original = decodeSafetensors(new Uint8Array(readFileSync(input)));

  const roundTrip = async (preset: string, extra: string[] = []) => {
    const snap = join(dir, `${preset}.kvq`);
    const c = await kvq([
      'compress',
      '--kv',
      input,
      '--query-heads',
      '8',
      '--preset',
      preset,
      '--out',
      snap,
      '--json',
      ...extra,
    ]);
    expect(c.stderr, preset).toBe('');
    expect(c.code, preset).toBe(0);
    const out = join(dir, `${preset}.safetensors`);
    const d = await kvq(['decompress', snap, '--out', out]);
    expect(d.code, preset).toBe(0);
    return { summary: JSON.parse(c.stdout), st: decodeSafetensors(new Uint8Array(readFileSync(out))) };
  };

  it('fp16 reproduces fp16 input exactly; kivi-2 and k4v2 lose a bounded, ordered amount', async () => {
    const fp16 = await roundTrip('fp16');
    expect(fp16.summary).toMatchObject({
      tokens,
      preset: 'fp16',
      layout: { layers, queryHeads: 8, kvHeads, headDim },
    });
    for (let l = 0; l < layers; l++)
      for (const part of ['keys', 'values']) {
        const a = safetensorToFloat32(original.tensors[`layers.${l}.${part}`]!);
        const b = safetensorToFloat32(fp16.st.tensors[`layers.${l}.${part}`]!);
        expect(b, `${l} ${part}`).toEqual(a);
      }
    const err = (st: typeof fp16.st, part: string) => {
      let e = 0;
      for (let l = 0; l < layers; l++)
        e += relMse(
          safetensorToFloat32(original.tensors[`layers.${l}.${part}`]!),
          safetensorToFloat32(st.tensors[`layers.${l}.${part}`]!),
        );
      return e / layers;
    };
    const kivi2 = await roundTrip('kivi-2', ['--strict']);
    const k4v2 = await roundTrip('k4v2', ['--strict']);
    // 3 bits/value, a little more where a 32-token key group of a block is cut short
    expect(kivi2.summary.bitsPerValue).toBeGreaterThanOrEqual(3);
    expect(kivi2.summary.bitsPerValue).toBeLessThan(3.1);
    // 2-bit keys lose more than 4-bit keys; both lose something, and not everything
    expect(err(kivi2.st, 'keys')).toBeGreaterThan(err(k4v2.st, 'keys'));
    expect(err(k4v2.st, 'keys')).toBeGreaterThan(0);
    expect(err(kivi2.st, 'keys')).toBeLessThan(0.5);
    expect(err(kivi2.st, 'values')).toBeLessThan(0.5);
    // the decompressed file feeds compress again (layout from its metadata, no --query-heads)
    const again = await kvq([
      'compress',
      '--kv',
      join(dir, 'k4v2.safetensors'),
      '--preset',
      'fp16',
      '--out',
      join(dir, 'again.kvq'),
    ]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/200 tokens/);
  });

  it('bad K/V input: one line and a hint, exit 3 (bad file) or 2 (missing flag)', async () => {
    const noHeads = await kvq(['compress', '--kv', input, '--out', join(dir, 'x.kvq')]);
    expect(noHeads.code).toBe(2);
    expect(noHeads.stderr).toMatch(
      /^kvq: .*no "kvq\.layout" metadata\)\n {2}hint: pass --query-heads <n>\n$/,
    );
    const partial = Object.fromEntries(
      Object.entries(tensors).filter(([name]) => name !== 'layers.1.values'),
    );
    const broken = join(dir, 'broken.safetensors');
    writeFileSync(broken, encodeSafetensors(partial));
    const b = await kvq(['compress', '--kv', broken, '--query-heads', '8', '--out', join(dir, 'x.kvq')]);
    expect(b.code).toBe(3);
    expect(b.stderr).toMatch(
      /^kvq: .*broken\.safetensors: tensor "layers\.1\.values" is missing.*\n {2}hint: expected tensors layers/,
    );
    const cut = join(dir, 'cut.safetensors');
    writeFileSync(cut, readFileSync(input).subarray(0, 1000));
    const c = await kvq(['compress', '--kv', cut, '--query-heads', '8', '--out', join(dir, 'x.kvq')]);
    expect(c.code).toBe(3);
    expect(c.stderr.split('\n')).toHaveLength(3);
    expect(existsSync(join(dir, 'x.kvq'))).toBe(false);
    const both = await kvq(['compress', '--kv', input, '--model', STORIES, '--out', join(dir, 'x.kvq')]);
    expect(both.code).toBe(2);
  });
});

describe.skipIf(!existsSync(REF))(
  `the bundled kvq-ref-35M${existsSync(REF) ? '' : ' (skipped: ../shared/models/kvq-ref-35M missing)'}`,
  () => {
    it('a quick strict eval scores kivi-2 and aqua-2 (bundled adapters) against fp16', async () => {
      const r = await kvq([
        'eval',
        '--strict',
        '--ctx',
        '128',
        '--windows',
        '1',
        '--presets',
        'fp16,kivi-2,aqua-2',
        '--json',
      ]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const j = JSON.parse(r.stdout);
      expect(j.model).toBe(REF);
      expect(j.tokens).toBe(127);
      const [fp16, kivi2, aqua2] = j.results;
      expect(fp16.preset).toBe('fp16');
      expect(kivi2.bitsPerValue).toBeGreaterThanOrEqual(3);
      expect(kivi2.bitsPerValue).toBeLessThan(3.05);
      expect(aqua2.bitsPerValue).toBeLessThan(2);
      expect(j.adapters['aqua-2']).toMatch(/kvq-ref-35M\.aqua-2\.safetensors$/);
      for (const x of [kivi2, aqua2]) {
        expect(x.perplexity).not.toBe(fp16.perplexity);
        expect(x.kl).toBeGreaterThan(0);
        expect(Math.abs(x.relPerplexity)).toBeLessThan(0.5);
      }
    });

    it('an AQUA snapshot is inspected and decompressed with the bundled adapters it records', async () => {
      const snap = join(dir, 'aqua.kvq');
      expect(
        (await kvq(['compress', '--tokens', '160', '--preset', 'aqua-2', '--strict', '--out', snap])).code,
      ).toBe(0);
      const i = JSON.parse((await kvq(['inspect', snap, '--json'])).stdout);
      expect(i).toMatchObject({ kind: 'kvq-cache', checksum: 'ok', preset: 'aqua-2', tokens: 160 });
      expect(i.adaptersFile).toMatch(/kvq-ref-35M\.aqua-2\.safetensors$/);
      expect(i.presetBitsPerValue).toBeCloseTo(i.bitsPerValue, 1);
      const d = await kvq(['decompress', snap, '--out', join(dir, 'aqua.safetensors'), '--json']);
      expect(d.code).toBe(0);
      expect(JSON.parse(d.stdout)).toMatchObject({ tokens: 160, layers: 12, preset: 'aqua-2' });
      // adapters of another preset do not fit: exit 3 with the mismatch named; a missing file: exit 3
      const calib = join(import.meta.dirname, '..', '..', '..', 'packages', 'calibrate', 'adapters');
      const out = join(dir, 'w.safetensors');
      const wrong = await kvq([
        'decompress',
        snap,
        '--out',
        out,
        '--adapters',
        join(calib, 'kvq-ref-35M.aqua-2.5.safetensors'),
      ]);
      expect(wrong.code).toBe(3);
      expect(wrong.stderr).toMatch(
        /^kvq: .*adapters fitted for preset "aqua-2\.5", used with preset "aqua-2"\n {2}hint: /,
      );
      expect(existsSync(out)).toBe(false);
      const missing = await kvq([
        'decompress',
        snap,
        '--out',
        out,
        '--adapters',
        join(calib, 'missing.safetensors'),
      ]);
      expect(missing.code).toBe(3);
      expect(missing.stderr).toMatch(/^kvq: adapter file not found: .*missing\.safetensors\n/);
    });
  },
);

const hasScript = existsSync('/usr/bin/script');
describe.skipIf(!hasScript)(
  `progress on a terminal${hasScript ? '' : ' (skipped: no `script` to give a pseudo-terminal)'}`,
  () => {
    const bin = join(import.meta.dirname, '..', 'dist', 'kvq.js');
    const onTty = (args: string[]) =>
      runProcess(
        'script',
        ['-qec', [process.execPath, bin, ...args].map((a) => `'${a}'`).join(' '), '/dev/null'],
        {},
        60_000,
      );

    it('compress draws a bar on a terminal, none with --json or --no-progress', async () => {
      const base = [
        'compress',
        '--model',
        STORIES,
        '--text',
        TINY_TEXT,
        '--tokens',
        '96',
        '--out',
        join(dir, 't.kvq'),
      ];
      const tty = await onTty(base);
      expect(tty.code).toBe(0);
      expect(tty.stdout).toMatch(/compress \[[░█]+\] \d+% \| \d+\/96 tokens/);
      const json = await onTty([...base, '--json']);
      expect(json.code).toBe(0);
      expect(json.stdout).not.toMatch(/compress \[/);
      expect(JSON.parse(json.stdout.replaceAll('\r\n', '\n'))).toMatchObject({ tokens: 96 });
      expect((await onTty([...base, '--no-progress'])).stdout).not.toMatch(/compress \[/);
    });
  },
);
