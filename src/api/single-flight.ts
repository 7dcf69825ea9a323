/**
 * Concurrent calls with the same key share one execution within an isolate: the first caller runs `work`,
 * the others await its promise. The entry is dropped when the work settles (results are cached elsewhere).
 */
export function createSingleFlight<T>() {
  const inFlight = new Map<string, Promise<T>>();
  return function singleFlight(key: string, work: () => Promise<T>): { result: Promise<T>; shared: boolean } {
    const existing = inFlight.get(key);
    if (existing) return { result: existing, shared: true };
    const result = work().finally(() => inFlight.delete(key));
    inFlight.set(key, result);
    return { result, shared: false };
  };
}
