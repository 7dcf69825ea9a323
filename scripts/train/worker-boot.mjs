// Entry of a gradient worker thread: worker_threads do not inherit tsx's loader, so register it here and
// import the TypeScript worker (grad-worker.ts) named in workerData.entry.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
