/**
 * Pick-and-choose really works: every publishable package is packed with `pnpm pack` (which
 * rewrites workspace: ranges), the tarballs are installed with npm into a scratch project outside
 * the workspace, and each package is imported there from its published `exports` map.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

interface Pkg {
  dir: string;
  name: string;
  exports: Record<string, unknown>;
  private?: boolean;
}

function publishable(): Pkg[] {
  const dirs = ['packages', 'packages/integrations', 'apps'].flatMap((base) =>
    fs
      .readdirSync(path.join(repo, base), { withFileTypes: true })
      .filter((d) => d.isDirectory() && fs.existsSync(path.join(repo, base, d.name, 'package.json')))
      .map((d) => path.join(repo, base, d.name)),
  );
  return dirs
    .map((dir) => ({ dir, ...JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) }) as Pkg)
    .filter((p) => !p.private);
}

const pkgs = publishable();
let scratch = '';

beforeAll(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'kvq-pack-'));
  const tarballs: Record<string, string> = {};
  for (const p of pkgs) {
    const out = execFileSync('pnpm', ['pack', '--pack-destination', scratch], {
      cwd: p.dir,
      encoding: 'utf8',
    });
    const file = out.trim().split('\n').pop()!.trim();
    tarballs[p.name] = `file:${path.isAbsolute(file) ? file : path.join(scratch, path.basename(file))}`;
  }
  fs.writeFileSync(
    path.join(scratch, 'package.json'),
    // vitest: the optional peer that @kvq/core/testing (the conformance suite) needs, as its users have it
    JSON.stringify(
      { name: 'scratch', private: true, type: 'module', dependencies: { ...tarballs, vitest: '^3.2.0' } },
      null,
      2,
    ),
  );
  // --ignore-scripts: native packages must import cleanly without running their install step.
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], {
    cwd: scratch,
    stdio: 'inherit',
    env: { ...process.env, npm_config_yes: 'true' },
  });
});

afterAll(() => {
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

describe('packed packages install and import outside the workspace', () => {
  for (const p of pkgs) {
    it(`${p.name}: has exports, files and a @kvq/core range`, () => {
      const pj = JSON.parse(
        fs.readFileSync(path.join(scratch, 'node_modules', p.name, 'package.json'), 'utf8'),
      );
      expect(pj.exports['.']).toBeDefined();
      expect(pj.files).toContain('dist');
      expect(pj.sideEffects === false || Array.isArray(pj.sideEffects)).toBe(true);
      if (p.name !== '@kvq/core') {
        const range = pj.peerDependencies?.['@kvq/core'] ?? pj.dependencies?.['@kvq/core'];
        expect(range, 'a range on @kvq/core').toMatch(/^\^?\d/);
      }
      expect(JSON.stringify(pj)).not.toContain('workspace:');
    });
    for (const sub of Object.keys(p.exports).filter((k) => k !== './package.json')) {
      it(`${p.name}: import('${sub}') works`, () => {
        const spec = sub === '.' ? p.name : `${p.name}/${sub.slice(2)}`;
        if (spec === '@kvq/core/testing') {
          // the conformance suite is a vitest module: run it, as a kernel package would, on the CPU backend
          fs.writeFileSync(
            path.join(scratch, 'conformance.test.mjs'),
            "import { createCpuBackend } from '@kvq/core';\nimport { runConformance } from '@kvq/core/testing';\nrunConformance(async () => createCpuBackend(), { quick: true });\n",
          );
          const run = execFileSync(
            path.join(scratch, 'node_modules/.bin/vitest'),
            ['run', 'conformance.test.mjs'],
            {
              cwd: scratch,
              encoding: 'utf8',
              env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
            },
          );
          expect(run).toMatch(/Tests\s+\d+ passed \(\d+\)/);
          expect(run).not.toMatch(/failed/);
          return;
        }
        const out = execFileSync(
          process.execPath,
          [
            '--input-type=module',
            '-e',
            `const m = await import(${JSON.stringify(spec)}); console.log(Object.keys(m).length);`,
          ],
          { cwd: scratch, encoding: 'utf8' },
        );
        expect(Number(out.trim())).toBeGreaterThan(0);
      });
    }
  }

  it('@kvq/core main entry uses no Node built-ins (browser-safe)', () => {
    const dist = path.join(scratch, 'node_modules', '@kvq/core', 'dist');
    const seen = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const src = fs.readFileSync(file, 'utf8');
      expect(src, `${path.basename(file)} imports a Node built-in`).not.toMatch(
        /from\s*['"](node:|fs['"]|path['"]|os['"]|crypto['"]|worker_threads)/,
      );
      expect(src).not.toMatch(/require\(['"](node:|fs|path)/);
      for (const m of src.matchAll(/from\s*['"](\.\/[^'"]+)['"]/g))
        visit(path.join(path.dirname(file), m[1]!));
    };
    visit(path.join(dist, 'index.js'));
    expect(seen.size).toBeGreaterThan(0);
  });
});
