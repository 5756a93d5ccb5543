import { BackendUnavailableError } from '../errors.js';
import { createCpuBackend } from './cpu/cpu-backend.js';
import type { Backend, BackendName } from './types.js';

/** Creates a backend, or throws {@link BackendUnavailableError} saying why it cannot run here. */
export type BackendFactory = () => Promise<Backend>;

interface Entry {
  readonly factory: BackendFactory;
  readonly priority: number;
}

/**
 * Where backends are registered by name with a priority (higher is tried first by `'auto'`).
 * Kernel packages register into {@link defaultRegistry} when imported; tests may make their own.
 */
export class BackendRegistry {
  readonly #entries = new Map<BackendName, Entry>();

  /** Registers a factory; registering a name twice throws unless `replace` is set. */
  register(name: BackendName, factory: BackendFactory, priority = 0, replace = false): void {
    if (this.#entries.has(name) && !replace) throw new Error(`backend "${name}" is already registered`);
    this.#entries.set(name, { factory, priority });
  }

  /** Names registered, by descending priority. */
  names(): BackendName[] {
    return [...this.#entries.entries()].sort((a, b) => b[1].priority - a[1].priority).map(([n]) => n);
  }

  /**
   * Creates the first backend of `hints` that works (`'auto'` = all registered, by priority).
   * If none works, the error lists every backend tried and why it failed.
   */
  async select(hints: readonly BackendName[] | 'auto' = 'auto'): Promise<Backend> {
    const order = hints === 'auto' ? this.names() : hints;
    const failures: string[] = [];
    for (const name of order) {
      const entry = this.#entries.get(name);
      if (!entry) {
        failures.push(`${name}: not registered (import its package, e.g. @kvq/kernels-${name})`);
        continue;
      }
      try {
        return await entry.factory();
      } catch (err) {
        failures.push(`${name}: ${err instanceof BackendUnavailableError ? err.reason : String(err)}`);
      }
    }
    throw new BackendUnavailableError(
      order.join('|') || '(none)',
      `no backend could be created — ${failures.join('; ')}`,
    );
  }
}

/**
 * The process-wide registry that kernel packages register into on import. The CPU reference
 * backend is registered here from the start, with the lowest priority (-100), so that
 * `selectBackend('cpu')` and `'auto'` always find a backend.
 */
export const defaultRegistry = new BackendRegistry();
defaultRegistry.register('cpu', async () => createCpuBackend(), -100);

/** Registers a backend in {@link defaultRegistry}. */
export function registerBackend(name: BackendName, factory: BackendFactory, priority = 0): void {
  defaultRegistry.register(name, factory, priority, true);
}

/** Selects a backend from {@link defaultRegistry}; see {@link BackendRegistry.select}. */
export function selectBackend(
  hints: readonly BackendName[] | BackendName | 'auto' = 'auto',
): Promise<Backend> {
  return defaultRegistry.select(typeof hints === 'string' && hints !== 'auto' ? [hints] : hints);
}
