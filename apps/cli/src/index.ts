/**
 * @kvq/cli — the `kvq` command line (eval; calibrate and bench are added by their packages).
 * @packageDocumentation
 */
export { createProgram, runCli } from './program.js';
export { formatError, CliError } from './errors.js';
export { formatTable, type EvalReport, type EvalReportRow } from './eval/report.js';
