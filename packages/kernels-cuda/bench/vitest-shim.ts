// A minimal stand-in for `vitest` so that the package's GPU test files (and @kvq/core's conformance
// suite) run on the GPU machine, which has Node but no node_modules. Bundled by bench/build.mjs.
type Fn = (ctx: { skip: (why?: string) => void }) => unknown;
interface Case {
  name: string;
  fn?: Fn;
  skip?: string;
}
const cases: Case[] = [];
const stack: string[] = [];

class Skip extends Error {}

export function describe(name: string, body: () => void): void {
  stack.push(name);
  try {
    body();
  } finally {
    stack.pop();
  }
}
describe.skipIf = (cond: boolean) => (name: string, body: () => void) => {
  if (!cond) return describe(name, body);
  stack.push(name);
  const saved = cases.length;
  try {
    body();
  } finally {
    stack.pop();
  }
  for (let i = saved; i < cases.length; i++) cases[i]!.skip = 'skipIf';
};
export function it(name: string, fn: Fn): void {
  cases.push({ name: [...stack, name].join(' > '), fn });
}
it.skip = (name: string, _fn?: Fn) => cases.push({ name: [...stack, name].join(' > '), skip: 'skip' });
export const test = it;

const typeOf = (v: unknown): string => typeof v;
function fail(msg: string, m?: string): never {
  throw new Error(m ? `${m}: ${msg}` : msg);
}
function eq(a: unknown, b: unknown): boolean {
  if (ArrayBuffer.isView(a) && ArrayBuffer.isView(b))
    return JSON.stringify(Array.from(a as never)) === JSON.stringify(Array.from(b as never));
  return JSON.stringify(a) === JSON.stringify(b);
}
export function expect(v: unknown, m?: string) {
  const api = {
    toBe: (e: unknown) => (Object.is(v, e) ? undefined : fail(`expected ${String(v)} to be ${String(e)}`, m)),
    toEqual: (e: unknown) => (eq(v, e) ? undefined : fail('values differ', m)),
    toBeLessThanOrEqual: (e: number) => ((v as number) <= e ? undefined : fail(`expected ${v} ≤ ${e}`, m)),
    toBeLessThan: (e: number) => ((v as number) < e ? undefined : fail(`expected ${v} < ${e}`, m)),
    toBeGreaterThan: (e: number) => ((v as number) > e ? undefined : fail(`expected ${v} > ${e}`, m)),
    toBeGreaterThanOrEqual: (e: number) => ((v as number) >= e ? undefined : fail(`expected ${v} ≥ ${e}`, m)),
    toBeTypeOf: (t: string) =>
      typeOf(v) === t ? undefined : fail(`expected typeof ${typeOf(v)} to be ${t}`, m),
    toBeInstanceOf: (c: new (...a: never[]) => unknown) =>
      v instanceof c ? undefined : fail(`not an instance of ${c.name}: ${String(v)}`, m),
    toMatch: (r: RegExp) => (r.test(String(v)) ? undefined : fail(`${String(v)} does not match ${r}`, m)),
    // a class (the error's type) or a RegExp (its message), as vitest's toThrow
    toThrow: (c?: (new (...a: never[]) => unknown) | RegExp) => {
      try {
        (v as () => unknown)();
      } catch (err) {
        if (c instanceof RegExp) {
          if (!c.test(String((err as Error)?.message ?? err)))
            fail(`threw ${String(err)}, not matching ${c}`, m);
        } else if (c && !(err instanceof c)) fail(`threw ${String(err)}, not ${c.name}`, m);
        return;
      }
      fail('did not throw', m);
    },
  };
  return {
    ...api,
    not: {
      toBe: (e: unknown) =>
        Object.is(v, e) ? fail(`expected ${String(v)} not to be ${String(e)}`, m) : undefined,
      toThrow: () => {
        try {
          (v as () => unknown)();
        } catch (err) {
          fail(`threw ${String(err)}`, m);
        }
      },
    },
    rejects: {
      toBeInstanceOf: async (c: new (...a: never[]) => unknown) => {
        try {
          await (v as Promise<unknown>);
        } catch (err) {
          if (err instanceof c) return;
          fail(`rejected with ${String(err)}`, m);
        }
        fail('did not reject', m);
      },
      toThrow: async (c?: new (...a: never[]) => unknown) => {
        try {
          await (v as Promise<unknown>);
        } catch (err) {
          if (!c || err instanceof c) return;
          fail(`rejected with ${String(err)}, not ${c.name}`, m);
        }
        fail('did not reject', m);
      },
    },
  };
}

/** Runs every registered case in order; returns counts and per-case results. */
export async function runAll(): Promise<{
  passed: number;
  failed: number;
  skipped: number;
  results: { name: string; status: string; ms: number; error?: string }[];
}> {
  const results: { name: string; status: string; ms: number; error?: string }[] = [];
  for (const c of cases) {
    const t0 = performance.now();
    if (c.skip || !c.fn) {
      results.push({ name: c.name, status: 'skipped', ms: 0 });
      continue;
    }
    try {
      await c.fn({
        skip: (why?: string) => {
          throw new Skip(why);
        },
      });
      results.push({ name: c.name, status: 'passed', ms: performance.now() - t0 });
    } catch (err) {
      if (err instanceof Skip) results.push({ name: c.name, status: 'skipped', ms: 0, error: err.message });
      else
        results.push({
          name: c.name,
          status: 'FAILED',
          ms: performance.now() - t0,
          error: String((err as Error)?.stack ?? err).slice(0, 600),
        });
    }
    const r = results[results.length - 1]!;
    console.log(
      `${r.status.padEnd(7)} ${r.ms.toFixed(0).padStart(6)} ms  ${r.name}${r.error ? `\n        ${r.error.split('\n')[0]}` : ''}`,
    );
  }
  const n = (s: string) => results.filter((r) => r.status === s).length;
  return { passed: n('passed'), failed: n('FAILED'), skipped: n('skipped'), results };
}
