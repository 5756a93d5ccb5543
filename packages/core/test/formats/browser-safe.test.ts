import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const src = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');
const builtins = new Set(builtinModules);

/** Every module reachable from `entry` through relative imports, and every bare import seen. */
function importGraph(entry: string): { files: string[]; bare: string[] } {
  const files: string[] = [];
  const bare = new Set<string>();
  const todo = [entry];
  while (todo.length > 0) {
    const f = todo.pop()!;
    if (files.includes(f)) continue;
    files.push(f);
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]/g)) {
      const spec = m[1]!;
      if (spec.startsWith('.')) todo.push(resolve(dirname(f), spec.replace(/\.js$/, '.ts')));
      else bare.add(spec);
    }
  }
  return { files, bare: [...bare] };
}

describe('browser safety', () => {
  it('the formats barrel reaches no Node built-in module', () => {
    const { files, bare } = importGraph(resolve(src, 'formats/index.ts'));
    expect(files.length).toBeGreaterThan(5);
    const node = bare.filter((s) => s.startsWith('node:') || builtins.has(s.split('/')[0]!));
    expect(node).toEqual([]);
  });

  it('the node entry does use them (the check can fail)', () => {
    const { bare } = importGraph(resolve(src, 'node.ts'));
    expect(bare.some((s) => s.startsWith('node:'))).toBe(true);
  });
});
