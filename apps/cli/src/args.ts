import { InvalidArgumentError as CommanderArgError } from 'commander';

/** A commander argument parser for an integer ≥ `min` (a positive integer by default). */
export function integerArg(name: string, min = 1): (v: string) => number {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) {
      throw new CommanderArgError(
        min === 1
          ? `${name} must be a positive integer, got "${v}"`
          : `${name} must be an integer ≥ ${min}, got "${v}"`,
      );
    }
    return n;
  };
}
