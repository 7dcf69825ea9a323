/** Commander option parsers shared by the command lines of scripts/ (bench, export, batches, bench isa). */
import { InvalidArgumentError } from 'commander';

/** A parser of integers >= min, refusing anything else with `what` it expected. */
export function intAtLeast(min: number, what: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected ${what}, got ${v}`);
    return n;
  };
}

export const positiveInt = intAtLeast(1, 'a positive integer');
export const nonNegativeInt = intAtLeast(0, 'a whole number >= 0');
