/**
 * Lets every other event of the isolate run (requests, Durable Object calls, queue deliveries) before the next
 * sampler step. A step is a synchronous onnxruntime run: without a macrotask boundary between steps, a
 * 999-step render held a cheap 400 for 7.5 s, and a batch chunk held its job's status for over 30 s (issue 15).
 * Passed as the render's onStep; it never changes the pixels.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
