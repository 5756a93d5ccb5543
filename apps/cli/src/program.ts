import { Command, CommanderError } from 'commander';
import { registerBench } from './commands/bench.js';
import { registerCalibrate } from './commands/calibrate.js';
import { registerCompress } from './commands/compress.js';
import { registerEval } from './commands/eval.js';
import { registerInspect } from './commands/inspect.js';
import { registerPresets } from './commands/presets.js';
import { EXIT, exitCodeOf, formatError } from './errors.js';

/** Builds the `kvq` command line with every subcommand registered. */
export function createProgram(): Command {
  const program = new Command('kvq')
    .description(
      'KV-cache compression for LLM inference: evaluate, calibrate and benchmark compressed caches',
    )
    .version('0.1.0')
    .option('--verbose', 'print stack traces with errors')
    .showHelpAfterError(false)
    .exitOverride();
  registerEval(program);
  registerCalibrate(program);
  registerBench(program);
  registerInspect(program);
  registerCompress(program);
  registerPresets(program);
  program.addHelpText(
    'after',
    '\nExit codes: 0 success, 1 runtime error, 2 usage error, 3 bad input file (missing, corrupt, wrong version or model).',
  );
  return program;
}

/**
 * Runs the command line on `argv` (as `process.argv`) and returns the exit code ({@link EXIT}):
 * errors are printed to stderr as one line plus a hint (with the stack only under `--verbose`).
 */
export async function runCli(argv: readonly string[]): Promise<number> {
  const verbose = argv.includes('--verbose');
  const args = argv.filter((a, i) => i < 2 || a !== '--verbose');
  const program = createProgram();
  program.configureOutput({ writeErr: () => {} });
  for (const cmd of program.commands) cmd.exitOverride().configureOutput({ writeErr: () => {} });
  try {
    await program.parseAsync(args);
    return EXIT.ok;
  } catch (err) {
    const code = exitCodeOf(err);
    if (err instanceof CommanderError) {
      if (code === EXIT.ok) return EXIT.ok; // --help, --version
      if (err.code === 'commander.help') {
        // `kvq` alone: the help, on stderr, as a usage error
        process.stderr.write(program.helpInformation());
        return EXIT.usage;
      }
      const sub = program.commands.find((c) => args.slice(2).includes(c.name()));
      process.stderr.write(`${formatError(err)}\n  hint: see \`kvq ${sub ? `${sub.name()} ` : ''}--help\`\n`);
      return code;
    }
    process.stderr.write(`${formatError(err, verbose)}\n`);
    if (verbose && err instanceof Error && err.stack && !/unexpected error/.test(formatError(err)))
      process.stderr.write(`${err.stack}\n`);
    return code;
  }
}
