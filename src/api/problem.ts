import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { DiffusionOptionError, NonFiniteOutputError } from '../diffusion/index.ts';
import { ModelIoError } from '../inference/eps-model.ts';
import { ModelIntegrityError } from '../inference/integrity.ts';

/** RFC 9457 problem details. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  [extension: string]: unknown;
}

/** Thrown by validation and routes; turned into application/problem+json by `problemResponse`. */
export class ProblemError extends Error {
  override readonly name = 'ProblemError';
  constructor(
    readonly status: ContentfulStatusCode,
    readonly title: string,
    readonly detail: string,
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(detail);
  }
}

/** 400 for an invalid request parameter; `param` names it. */
export function invalidParam(param: string, detail: string): ProblemError {
  return new ProblemError(400, 'Invalid parameter', `${param} ${detail}`, { param });
}

const TYPE_BASE = 'https://ddpm-edge.dev/problems/';

function problemOf(error: unknown): Problem {
  if (error instanceof ProblemError) {
    const slug = error.title.toLowerCase().replaceAll(' ', '-');
    // extensions never replace the members RFC 9457 defines (an extension named `status` once overwrote the HTTP status)
    return { ...error.extensions, type: TYPE_BASE + slug, title: error.title, status: error.status, detail: error.detail };
  }
  if (error instanceof DiffusionOptionError) {
    return { type: TYPE_BASE + 'invalid-parameter', title: 'Invalid parameter', status: 400, detail: error.message, param: error.option };
  }
  if (error instanceof ModelIntegrityError) {
    return {
      type: TYPE_BASE + 'model-integrity',
      title: 'Model integrity check failed',
      status: 503,
      detail: `the bundled model ${error.model} does not match the sha256 of its model card; it is not served`,
      model: error.model,
    };
  }
  if (error instanceof ModelIoError || error instanceof NonFiniteOutputError) {
    return { type: TYPE_BASE + 'model-failure', title: 'Model failure', status: 500, detail: error.message };
  }
  if (error instanceof HTTPException) {
    return { type: 'about:blank', title: error.message || 'HTTP error', status: error.status };
  }
  return { type: 'about:blank', title: 'Internal Server Error', status: 500 };
}

/** The one place where errors become responses (app.onError and app.notFound). */
export function problemResponse(error: unknown, c: Context): Response {
  const problem = problemOf(error);
  if (problem.status >= 500) {
    // an expected failure (a ProblemError: not configured, a model that fails its integrity check) is one line;
    // anything else keeps its stack
    const expected = error instanceof ProblemError || error instanceof ModelIntegrityError;
    if (expected) console.error(`${c.req.method} ${c.req.path}: ${problem.status} ${problem.title}: ${problem.detail ?? ''}`);
    else console.error(`${c.req.method} ${c.req.path}:`, error);
  }
  return new Response(JSON.stringify(problem), {
    status: problem.status,
    headers: { 'content-type': 'application/problem+json', 'cache-control': 'no-store' },
  });
}

export function notFoundProblem(c: Context): Response {
  return problemResponse(new ProblemError(404, 'Not found', `no route for ${c.req.method} ${c.req.path}`), c);
}
