import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { STORIES, TINY_TEXT, kvq, quickEvalArgs } from './helpers.js';

describe('the kvq binary', () => {
  it('--help lists the eval command; eval --help lists its flags', async () => {
    const top = await kvq(['--help']);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/Usage: kvq/);
    expect(top.stdout).toMatch(/eval \[options\]/);
    const ev = await kvq(['eval', '--help']);
    expect(ev.code).toBe(0);
    for (const flag of [
      '--model',
      '--text',
      '--presets',
      '--ctx',
      '--windows',
      '--quick',
      '--strict',
      '--adapters',
      '--backend',
      '--json',
    ]) {
      expect(ev.stdout).toContain(flag);
    }
  });

  it('errors are one line plus a hint, with a non-zero exit code', async () => {
    const unknown = await kvq(['eval', '--bogus']);
    expect(unknown.code).toBe(2); // usage error
    expect(unknown.stderr).toMatch(/^kvq: error: unknown option '--bogus'\n {2}hint: /);
    const missing = await kvq(['eval', '--model', '/nonexistent/m.gguf']);
    expect(missing.code).toBe(3); // bad input file
    expect(missing.stderr).toBe(
      'kvq: model file not found: /nonexistent/m.gguf\n  hint: pass --model <gguf> or set KVQ_MODEL / KVQ_MODELS_DIR\n',
    );
    const badCtx = await kvq(['eval', '--ctx', 'x']);
    expect(badCtx.code).not.toBe(0);
    expect(badCtx.stderr).toMatch(/--ctx must be a positive integer, got "x"/);
    const dir = mkdtempSync(join(tmpdir(), 'kvq-cli-'));
    const cut = join(dir, 'cut.gguf');
    writeFileSync(cut, readFileSync(STORIES).subarray(0, 5000));
    const truncated = await kvq(['eval', '--model', cut, '--text', TINY_TEXT]);
    expect(truncated.code).toBe(3);
    expect(truncated.stderr).toMatch(/^kvq: .*cut\.gguf: truncated: .*\n {2}hint: check the --model/);
    expect(truncated.stderr.split('\n')).toHaveLength(3);
    const aqua = await kvq(quickEvalArgs('fp16,aqua-2.5'));
    expect(aqua.code).toBe(1);
    expect(aqua.stdout).toBe('');
    expect(aqua.stderr).toMatch(
      /^kvq: preset "aqua-2\.5" predicts K\/V with AQUA-KV adapters, but no adapters were given: .*\n {2}hint: fit adapters with `kvq calibrate`/,
    );
    const badBackend = await kvq(['eval', '--backend', 'tpu']);
    expect(badBackend.code).not.toBe(0);
    expect(badBackend.stderr).toMatch(/Allowed choices are cpu, cuda, webgpu/);
  });

  it('a quick eval prints the table and writes the JSON report', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'kvq-cli-')), 'r.json');
    const r = await kvq(quickEvalArgs('fp16,kivi-2,fp32', '--json', out));
    // in a pipe, progress as plain lines on stderr (at least the last one), nothing else
    expect(r.stderr).toMatch(/^(eval: \d+\/\d+ chunks \| window [12] \| (fp16|kivi-2|fp32)\n)+$/);
    expect(r.stderr).toMatch(/eval: (\d+)\/\1 chunks \| window 2 \| fp32\n$/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/protocol aqua-kv: 32-token chunks, 4 fp16 sinks, fp16 buffer 128/);
    expect(r.stdout).toMatch(/^fp16 +16\.000 +16\.000 +16\.000/m);
    expect(r.stdout).toMatch(/^kivi-2 +3\.000 +3\.000 +3\.000/m);
    expect(r.stdout).toMatch(/^fp32 +32\.000 +32\.000/m);
    const report = JSON.parse(readFileSync(out, 'utf8'));
    expect(report).toMatchObject({
      model: STORIES,
      text: TINY_TEXT,
      ctx: 256,
      tokens: 510,
      backend: 'cpu (wasm-simd)',
    });
    expect(report.results.map((x: { preset: string }) => x.preset)).toEqual(['fp16', 'kivi-2', 'fp32']);
    expect(Object.keys(report.results[0]).sort()).toEqual(
      [
        'preset',
        'bitsPerValue',
        'storedBitsPerValue',
        'bitsK',
        'bitsV',
        'perplexity',
        'relPerplexity',
        'kl',
        'top1',
        'kvBytes',
        'fp16KvBytes',
        'seconds',
      ].sort(),
    );
    expect(report.results[0].perplexity).toBeGreaterThan(1);
  });
});
