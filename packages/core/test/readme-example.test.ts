import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const pkg = fileURLToPath(new URL('..', import.meta.url));

it('the README example runs against the built package', () => {
  const readme = readFileSync(join(pkg, 'README.md'), 'utf8');
  const start = readme.indexOf('```ts') + 5;
  const code = readme.slice(start, readme.indexOf('```', start));
  const file = join(mkdtempSync(join(tmpdir(), 'kvq-core-readme-')), 'example.mjs');
  writeFileSync(
    file,
    code.replaceAll("from '@kvq/core'", `from ${JSON.stringify(join(pkg, 'dist/index.js'))}`),
  );
  const out = execFileSync(process.execPath, [file], { encoding: 'utf8' });
  expect(out).toMatch(/bitsPerValue: 3/);
  expect(out).toMatch(/KIVI 2-bit/);
});
