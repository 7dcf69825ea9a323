/** Batch generation: routes, the Durable Object holding each job, and the queue consumer. */
export { createBatchRoutes } from './routes.ts';
export { BatchJobObject } from './job-object.ts';
export { handleBatchQueue } from './consumer.ts';
