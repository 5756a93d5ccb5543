import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeSafetensors } from '@kvq/core';
import { describe, expect, it } from 'vitest';
import { STORIES, TINY_TEXT, kvq, quickEvalArgs } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'kvq-cmd-'));
const ADAPTERS = join(
  import.meta.dirname,
  '..',
  '..',
  '..',
  'packages',
  'calibrate',
  'adapters',
  'kvq-ref-35M.aqua-2.5.safetensors',
);

describe('kvq presets / inspect / compress / decompress (the real binary)', () => {
  it('every subcommand has --help; top-level help lists them and the exit codes', async () => {
    const top = await kvq(['--help']);
    expect(top.code).toBe(0);
    for (const c of ['eval', 'calibrate', 'bench', 'inspect', 'compress', 'decompress', 'presets'])
      expect(top.stdout).toMatch(new RegExp(`\\n  ${c}\\b`));
    expect(top.stdout).toMatch(/Exit codes: 0 success, 1 runtime error, 2 usage error, 3 bad input file/);
    for (const c of ['inspect', 'compress', 'decompress', 'presets', 'bench', 'calibrate']) {
      const h = await kvq([c, '--help']);
      expect(h.code, c).toBe(0);
      expect(h.stdout, c).toMatch(new RegExp(`Usage: kvq ${c}`));
    }
  });

  it('presets lists every preset with exact bits/value, as a table or JSON', async () => {
    const t = await kvq(['presets', '--model', STORIES]);
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/^kivi-2 +3\.000 +3\.000 +3\.000 +none/m);
    expect(t.stdout).toMatch(/^k4v2 +4\.000 +5\.000 +3\.000/m);
    const j = JSON.parse((await kvq(['presets', '--json', '--model', STORIES])).stdout);
    expect(j.layout).toEqual({ layers: 5, queryHeads: 8, kvHeads: 4, headDim: 8 });
    const aqua = j.presets.find((p: { name: string }) => p.name === 'aqua-2.5');
    expect(aqua.bitsPerValue).toBeNull(); // HIGGS blocks of 128 do not divide stories260K's 32 channels
    expect(aqua.unavailable).toMatch(/Hadamard block 128/);
    expect(t.stdout).toMatch(/^aqua-2\.5 +n\/a/m);
    expect(j.presets.find((p: { name: string }) => p.name === 'fp8').bitsPerValue).toBe(8);
  });

  it('compress writes a snapshot that inspect reads and decompress turns into tensors', async () => {
    const snap = join(dir, 's.kvq');
    const c = await kvq([
      'compress',
      '--model',
      STORIES,
      '--text',
      TINY_TEXT,
      '--tokens',
      '160',
      '--preset',
      'k4v2',
      '--strict',
      '--out',
      snap,
      '--json',
    ]);
    expect(c.stderr).toBe('');
    expect(c.code).toBe(0);
    const summary = JSON.parse(c.stdout);
    expect(summary).toMatchObject({ tokens: 160, preset: 'k4v2' });
    // 4-bit keys in 32-token channel groups, 2-bit values: 4 bits/value, a little more where a block
    // ends in a short key group
    expect(summary.bitsPerValue).toBeGreaterThanOrEqual(4);
    expect(summary.bitsPerValue).toBeLessThan(4.05);
    const i = JSON.parse((await kvq(['inspect', snap, '--json'])).stdout);
    expect(i).toMatchObject({ kind: 'kvq-cache', checksum: 'ok', preset: 'k4v2', tokens: 160 });
    expect(i.layout).toEqual({ layers: 5, queryHeads: 8, kvHeads: 4, headDim: 8 });
    const out = join(dir, 's.safetensors');
    const d = await kvq(['decompress', snap, '--out', out]);
    expect(d.code).toBe(0);
    const st = decodeSafetensors(new Uint8Array(readFileSync(out)));
    expect(Object.keys(st.tensors)).toHaveLength(10);
    expect(st.tensors['layers.4.values']!.shape).toEqual([160, 4, 8]);
    expect(st.metadata['kvq.keys']).toBe('pre-RoPE');
  });

  it('inspect reads adapter files; corrupt, truncated and foreign files exit 3 with one line and a hint', async () => {
    const a = await kvq(['inspect', ADAPTERS, '--json']);
    expect(a.code).toBe(0);
    expect(JSON.parse(a.stdout)).toMatchObject({
      kind: 'kvq-adapters',
      checksum: 'ok',
      layersWithPredictors: 11,
    });
    const snap = join(dir, 'c.kvq');
    expect(
      (await kvq(['compress', '--model', STORIES, '--text', TINY_TEXT, '--tokens', '64', '--out', snap]))
        .code,
    ).toBe(0);
    const bytes = readFileSync(snap);
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 9]! ^= 0x55;
    writeFileSync(join(dir, 'flipped.kvq'), flipped);
    writeFileSync(join(dir, 'cut.kvq'), bytes.subarray(0, 100));
    writeFileSync(join(dir, 'junk.bin'), 'not a kvq file at all');
    const ad = Buffer.from(readFileSync(ADAPTERS));
    ad[ad.length - 50]! ^= 0x01;
    writeFileSync(join(dir, 'bad-adapters.safetensors'), ad);
    for (const f of ['flipped.kvq', 'cut.kvq', 'junk.bin', 'bad-adapters.safetensors', 'missing.kvq']) {
      const r = await kvq(['inspect', join(dir, f)]);
      expect(r.code, f).toBe(3);
      expect(r.stderr, f).toMatch(/^kvq: .+\n {2}hint: .+\n$/);
    }
    const flippedReport = JSON.parse((await kvq(['inspect', join(dir, 'flipped.kvq'), '--json'])).stdout);
    expect(flippedReport).toMatchObject({ kind: 'kvq-cache', checksum: 'mismatch' });
    expect(flippedReport.error).toMatch(/section \d+ checksum mismatch/);
    expect((await kvq(['inspect', join(dir, 'flipped.kvq')])).stdout).toMatch(/^checksum +mismatch$/m);
    expect(JSON.parse((await kvq(['inspect', join(dir, 'cut.kvq'), '--json'])).stdout)).toMatchObject({
      checksum: 'unverified',
      error: expect.stringMatching(/truncated|past the end|cut short|needs/),
    });
    expect(
      JSON.parse((await kvq(['inspect', join(dir, 'bad-adapters.safetensors'), '--json'])).stdout).checksum,
    ).toBe('mismatch');
  });

  it('usage errors exit 2; --verbose adds the stack', async () => {
    expect((await kvq(['compress', '--out', join(dir, 'x.kvq'), '--preset', 'nope'])).code).toBe(2);
    expect((await kvq(['inspect'])).code).toBe(2);
    const pdf = await kvq(['eval', '--plot', join(dir, 'p.pdf'), '--model', STORIES]);
    expect(pdf.code).toBe(2);
    expect(pdf.stderr).toMatch(
      /^kvq: --plot .*p\.pdf: unsupported image format "\.pdf"\n {2}hint: .*\.svg or \.png/,
    );
    const bare = await kvq([]);
    expect(bare.code).toBe(2); // no command: the help on stderr
    expect(bare.stdout).toBe('');
    expect(bare.stderr).toMatch(/^Usage: kvq \[options\] \[command\]/);
    const sub = await kvq(['compress', '--tokens', 'many', '--out', join(dir, 'x.kvq')]);
    expect(sub.code).toBe(2);
    expect(sub.stderr).toMatch(
      /--tokens must be a positive integer, got "many"\n {2}hint: see `kvq compress --help`\n$/,
    );
    expect((await kvq(['inspect', dir])).code).toBe(3); // a folder is not an input file
    const v = await kvq(['inspect', join(dir, 'none.kvq'), '--verbose']);
    expect(v.code).toBe(3);
    expect(v.stderr).toMatch(/\n {4}at /);
  });
});

describe('plots (Vega-Lite rendered to SVG)', () => {
  it('eval --plot draws one point per preset and the fp16 line', async () => {
    const svg = join(dir, 'eval.svg');
    const r = await kvq(quickEvalArgs('fp16,kivi-2,k4v2,kivi-4', '--windows', '1', '--plot', svg));
    expect(r.code).toBe(0);
    const s = readFileSync(svg, 'utf8');
    expect(s.startsWith('<svg')).toBe(true);
    expect(s.match(/<path[^>]*class="[^"]*"[^>]*>/g)?.length ?? 0).toBeGreaterThan(0);
    for (const p of ['kivi-2', 'k4v2', 'kivi-4']) expect(s).toContain(`>${p}</text>`);
    expect(s).toMatch(/fp16 \d+\.\d{3}/);
    expect(
      s.match(/role-mark[^"]*" role="graphics-object" aria-roledescription="symbol mark container"/g)
        ?.length ?? 1,
    ).toBeGreaterThan(0);
  });
  it('bench --plot draws speed-up vs context length from a CUDA bench result', async () => {
    const results = join(
      import.meta.dirname,
      '..',
      '..',
      '..',
      'packages',
      'kernels-cuda',
      'bench',
      'results',
      'h100-2026-11-23-tensor-core.json',
    );
    const svg = join(dir, 'bench.svg');
    const r = await kvq(['bench', '--results', results, '--plot', svg]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const s = readFileSync(svg, 'utf8');
    for (const p of ['kivi-2', 'k4v2', 'fp16', 'B=1', 'B=16']) expect(s).toContain(p);
    const bad = join(dir, 'not-bench.json');
    writeFileSync(bad, '{"x":1}');
    expect((await kvq(['bench', '--results', bad, '--plot', svg])).code).toBe(1);
    expect((await kvq(['bench', '--plot', svg])).code).toBe(2);
    const webgpuPlot = await kvq(['bench', '--backend', 'webgpu', '--plot', svg]);
    expect(webgpuPlot.code).toBe(2);
    expect(webgpuPlot.stderr).toMatch(/--plot draws speed-ups over PyTorch from a CUDA bench/);
  });
});
