import { writeFileAtomic } from '@kvq/core/node';

/**
 * The value of a `--json [file]` flag: `true` (bare `--json`) prints JSON on stdout instead of the
 * text; a file name keeps the text on stdout and also writes the JSON to that file (atomically).
 */
export type JsonOption = boolean | string | undefined;

/** Whether stdout carries JSON only (so nothing else may be printed there, nor progress). */
export function jsonOnStdout(json: JsonOption): boolean {
  return json === true;
}

/** JSON text of a report, two-space indented, with a final newline. */
export function toJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/**
 * Prints a command's result: JSON on stdout for a bare `--json`; otherwise `text` on stdout, and
 * with `--json <file>` the JSON written to that file and a `wrote <file>` line.
 */
export async function printResult(json: JsonOption, value: unknown, text: string): Promise<void> {
  if (json === true) {
    process.stdout.write(toJson(value));
    return;
  }
  if (text) process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  if (typeof json === 'string') {
    await writeFileAtomic(json, new TextEncoder().encode(toJson(value)));
    process.stdout.write(`wrote ${json}\n`);
  }
}
