/**
 * Pick-and-choose really works: every publishable package is packed with `pnpm pack` (which
 * rewrites workspace: ranges), the tarballs are installed with npm into a scratch project outside
 * the workspace, and each package is imported there from its published `exports` map.
 */
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
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

// Child processes run asynchronously: a synchronous one blocks the test worker's event loop, and
// vitest's worker RPC times out when that lasts a minute (npm install on a loaded 2-core machine).
const execFileAsync = promisify(execFile);
const run = async (cmd: string, args: string[], cwd: string, env?: NodeJS.ProcessEnv): Promise<string> =>
  (await execFileAsync(cmd, args, { cwd, encoding: 'utf8', env: env ?? process.env, maxBuffer: 64 << 20 }))
    .stdout;
/** Runs a command with inherited stdio; rejects on a non-zero exit. */
const runInherit = (cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<void> =>
  new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: 'inherit', env });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')}: exit ${code}`)),
    );
  });

const pkgs = publishable();
let scratch = '';

beforeAll(async () => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'kvq-pack-'));
  const tarballs: Record<string, string> = {};
  for (const p of pkgs) {
    const out = await run('pnpm', ['pack', '--pack-destination', scratch], p.dir);
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
  await runInherit(
    'npm',
    ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'],
    scratch,
    {
      ...process.env,
      npm_config_yes: 'true',
    },
  );
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
      it(`${p.name}: import('${sub}') works`, async () => {
        const spec = sub === '.' ? p.name : `${p.name}/${sub.slice(2)}`;
        if (spec === '@kvq/core/testing') {
          // the conformance suite is a vitest module: run it, as a kernel package would, on the CPU backend
          fs.writeFileSync(
            path.join(scratch, 'conformance.test.mjs'),
            "import { createCpuBackend } from '@kvq/core';\nimport { runConformance } from '@kvq/core/testing';\nrunConformance(async () => createCpuBackend(), { quick: true });\n",
          );
          const out = await run(
            path.join(scratch, 'node_modules/.bin/vitest'),
            ['run', 'conformance.test.mjs'],
            scratch,
            {
              ...process.env,
              NO_COLOR: '1',
              FORCE_COLOR: '0',
            },
          );
          expect(out).toMatch(/Tests\s+\d+ passed \(\d+\)/);
          expect(out).not.toMatch(/failed/);
          return;
        }
        const out = await run(
          process.execPath,
          [
            '--input-type=module',
            '-e',
            `const m = await import(${JSON.stringify(spec)}); console.log(Object.keys(m).length);`,
          ],
          scratch,
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
