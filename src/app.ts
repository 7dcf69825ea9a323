import { Hono } from 'hono';
import { createRestoreRoutes } from './api/cold.ts';
import { notFoundProblem, problemResponse } from './api/problem.ts';
import { createRoutes } from './api/routes.ts';
import { createStreamRoutes } from './api/stream.ts';
import { createBatchRoutes } from './batches/index.ts';
import type { Env } from './env.ts';
import type { ModelRegistry } from './models/registry.ts';
import { createWebRoutes } from './web/routes.ts';

export interface AppDeps {
  registry: ModelRegistry;
}

/** The Hono app over a model registry (tests build one over a tampered model). */
export function createApp(deps: AppDeps) {
  const app = new Hono<{ Bindings: Env }>();
  app.route('/v1', createRoutes(deps.registry));
  app.route('/v1/batches', createBatchRoutes(deps.registry));
  // Demo page and OpenAPI (issue 7): GET /v1/samples/{seed}/stream, /, /docs, /openapi.json, /assets/*.
  app.route('/v1', createStreamRoutes(deps.registry));
  // Cold Diffusion restoration (issue 19): POST /v1/restore, /v1/restore/stream
  app.route('/v1', createRestoreRoutes(deps.registry));
  app.route('/', createWebRoutes(deps.registry));
  app.notFound(notFoundProblem);
  app.onError(problemResponse);
  return app;
}
