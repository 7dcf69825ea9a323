/**
 * Typed error for invalid options anywhere in the diffusion core. `option` names the offending
 * option and the message states the allowed range, e.g.
 * `steps must be an integer in [1, 1000] (got 0)`.
 */
export class DiffusionOptionError extends RangeError {
  override readonly name = 'DiffusionOptionError';
  constructor(
    readonly option: string,
    message: string,
  ) {
    super(`${option} ${message}`);
  }
}

export function checkInt(option: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new DiffusionOptionError(option, `must be an integer in [${min}, ${max}] (got ${value})`);
  }
  return value;
}

export function checkRange(option: string, value: number, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new DiffusionOptionError(option, `must be a number in [${min}, ${max}] (got ${value})`);
  }
  return value;
}

export function checkOneOf<T extends string>(option: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new DiffusionOptionError(option, `must be one of ${allowed.join(', ')} (got ${JSON.stringify(value)})`);
  }
  return value as T;
}
