import { chunkRange } from './generate.ts';
import type { BatchEvent, BatchJob } from './types.ts';

function jobUrl(job: BatchJob): string {
  return `${job.origin}/v1/batches/${job.id}`;
}

/** URLs of the images written so far (those of finished chunks), in order. */
function imageLinks(job: BatchJob): string[] {
  const links: string[] = [];
  for (const chunk of job.chunksDone) {
    const [start, end] = chunkRange(job.spec, chunk);
    for (let k = start; k < end; k++) links.push(`${jobUrl(job)}/images/${k}.png`);
  }
  return links;
}

/** GET /v1/batches/{id}: status, progress and links (the record minus internals). */
export function jobView(job: BatchJob) {
  const { spec } = job;
  return {
    id: job.id,
    status: job.status,
    progress: { images: job.imagesDone, count: spec.count, chunks: job.chunksDone.length, chunkCount: job.chunks, fraction: job.imagesDone / spec.count },
    request: {
      model: spec.model,
      modelSha256: spec.modelSha256,
      count: spec.count,
      sampler: spec.params.sampler,
      steps: spec.params.steps,
      eta: spec.params.eta,
      clip: spec.params.clip,
      guidance: spec.params.guidance,
      scale: spec.params.scale,
      classes: spec.classes,
      seed: spec.seed,
      chunkSize: spec.chunkSize,
      callbackUrl: spec.callbackUrl,
    },
    auth: job.auth,
    deliveries: job.deliveries,
    errors: job.errors,
    callback: spec.callbackUrl === null ? null : { status: job.callback.status, event: job.callback.event, attempts: job.callback.attempts, lastStatus: job.callback.lastStatus, lastError: job.callback.lastError, deliveredAt: job.callback.deliveredAt },
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
    finishedAt: job.finishedAt,
    links: {
      self: jobUrl(job),
      grid: job.status === 'succeeded' ? `${jobUrl(job)}/grid.png` : null,
      images: imageLinks(job),
    },
  };
}

export type JobView = ReturnType<typeof jobView>;

/** The callback body (Standard Webhooks payload shape: type, timestamp, data). */
export function callbackPayload(job: BatchJob) {
  const event: BatchEvent = job.status === 'succeeded' ? 'batch.succeeded' : 'batch.failed';
  const view = jobView(job);
  return {
    type: job.callback.event ?? event,
    timestamp: job.finishedAt ?? job.updatedAt,
    data: { id: view.id, status: view.status, progress: view.progress, errors: view.errors, links: view.links, request: view.request },
  };
}
