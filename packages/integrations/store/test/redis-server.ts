import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createServer } from 'node:net';

/** Whether Debian's redis-server is on PATH (the Redis tests skip with this reason otherwise). */
export const redisAvailable = (() => {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
export const redisSkipReason = redisAvailable
  ? ''
  : " (skipped: redis-server is not installed; scripts/test-all.sh installs Debian's package)";

/** A free loopback TCP port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

/** A redis-server on loopback, started and stopped by the tests (no persistence). */
export class RedisServer {
  #proc: ChildProcess | undefined;
  /** `extraArgs` are passed on to redis-server (e.g. cluster mode) */
  constructor(
    readonly port: number,
    readonly extraArgs: readonly string[] = [],
  ) {}
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }
  async start(): Promise<void> {
    const proc = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--protected-mode',
        'no',
        ...this.extraArgs,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.#proc = proc;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('redis-server did not start in 10 s')), 10_000);
      proc.stdout!.on('data', (d: Buffer) => {
        if (d.toString().includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.on('exit', (code) => reject(new Error(`redis-server exited with ${code}`)));
    });
  }
  async stop(): Promise<void> {
    const p = this.#proc;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      p.on('exit', () => resolve());
      p.kill('SIGKILL');
    });
    this.#proc = undefined;
  }
}
