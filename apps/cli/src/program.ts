import { Command, CommanderError } from 'commander';
import { registerBench } from './commands/bench.js';
import { registerCalibrate } from './commands/calibrate.js';
import { registerEval } from './commands/eval.js';
import { formatError } from './errors.js';

/** Builds the `kvq` command line with every subcommand registered. */
export function createProgram(): Command {
  const program = new Command('kvq')
    .description(
      'KV-cache compression for LLM inference: evaluate, calibrate and benchmark compressed caches',
    )
    .version('0.1.0')
    .showHelpAfterError(false)
    .exitOverride();
  registerEval(program);
  registerCalibrate(program);
  registerBench(program);
  return program;
}

/**
 * Runs the command line on `argv` (as `process.argv`) and returns the exit code: 0 on success,
 * 1 on an error (printed to stderr as one line plus a hint).
 */
export async function runCli(argv: readonly string[]): Promise<number> {
  const program = createProgram();
  program.configureOutput({ writeErr: () => {} });
  for (const cmd of program.commands) cmd.exitOverride().configureOutput({ writeErr: () => {} });
  try {
    await program.parseAsync([...argv]);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return 0; // --help, --version
      process.stderr.write(`${formatError(err)}\n  hint: see \`kvq --help\`\n`);
      return err.exitCode || 1;
    }
    process.stderr.write(`${formatError(err)}\n`);
    return 1;
  }
}
