import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dataDir, modelsDir } from '@kvq/decoder/node';

const here = fileURLToPath(new URL('.', import.meta.url));
export const BIN = join(here, '..', 'dist', 'kvq.js');
export const STORIES = join(modelsDir(here), 'stories260K.gguf');
export const TINY_TEXT = join(dataDir(here), 'tinystories_sample_30k.txt');

/** Arguments of a quick `kvq eval` of stories260K on the tiny text: `presets` comma-separated, then `extra`. */
export function quickEvalArgs(presets: string, ...extra: string[]): string[] {
  return ['eval', '--quick', '--model', STORIES, '--text', TINY_TEXT, '--presets', presets, ...extra];
}

if (!existsSync(BIN)) throw new Error(`${BIN} is missing: build @kvq/cli first (turbo's test task does)`);

/** What a finished subprocess left: its exit code (null when killed), stdout and stderr. */
export interface ProcessResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command in a subprocess, killed after `timeoutMs`. Asynchronous, so that the test worker's
 * event loop stays free while it runs (a blocked worker misses vitest's RPC deadlines on a busy
 * machine: "Timeout calling onTaskUpdate").
 */
export function runProcess(
  command: string,
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 120_000,
): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs the built `kvq` binary in a subprocess (see {@link runProcess}). */
export function kvq(args: string[], env: Record<string, string> = {}): Promise<ProcessResult> {
  return runProcess(process.execPath, [BIN, ...args], env);
}
