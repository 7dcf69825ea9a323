// /openapi.json (src/openapi.ts) in Node: a valid OpenAPI 3.1 document (the official schema, via
// @seriousme/openapi-schema-validator) whose query parameters are exactly those the validating schema accepts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { batchBodySchema } from '../../src/batches/spec.ts';
import { SAMPLER_NAMES } from '../../src/diffusion/index.ts';
import { buildOpenApi, type OpenApiOperation } from '../../src/openapi.ts';
import { ProblemError } from '../../src/api/problem.ts';
import { parseRenderQuery, querySchema } from '../../src/api/query.ts';
import { createRegistry, parseModelCard } from '../../src/models/registry.ts';
import { parseColdCard } from '../../src/models/cold.ts';
import { coldSampleQuerySchema, parseRestoreQuery, restoreQuerySchema } from '../../src/api/cold-query.ts';

const card = parseModelCard(JSON.parse(readFileSync(join(import.meta.dirname, '../../models/fixture-tiny/model.json'), 'utf8')));
const entry = { card, bytes: new ArrayBuffer(0), limits: { maxBatch: 8, maxImageSteps: 1024 } };
const coldEntry = { card: parseColdCard(JSON.parse(readFileSync(join(import.meta.dirname, '../fixtures/cold-blur-tiny/model.json'), 'utf8'))), bytes: new ArrayBuffer(0), limits: entry.limits };
const registry = createRegistry([entry], undefined, [coldEntry]);
const doc = buildOpenApi(registry);

function op(path: string, method: 'get' | 'post' = 'get'): OpenApiOperation {
  const operation = doc.paths[path]?.[method];
  if (!operation) throw new Error(`no ${method.toUpperCase()} ${path}`);
  return operation;
}

const queryNames = (o: OpenApiOperation) => o.parameters.filter((p) => p.in === 'query').map((p) => p.name);

describe('GET /openapi.json', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    const result = await validator.validate(JSON.parse(JSON.stringify(doc)) as Record<string, unknown>);
    expect(result.errors ?? [], JSON.stringify(result.errors, null, 1)).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('lists exactly the query parameters of the validating zod schema', () => {
    const all = Object.keys(querySchema.shape).sort();
    expect(queryNames(op('/v1/grids/{seed}.png')).sort()).toEqual(all);
    const single = all.filter((k) => k !== 'n');
    // a sample from a Cold Diffusion model also takes its own parameters (model and scale are shared)
    const coldOnly = Object.keys(coldSampleQuerySchema.shape).filter((k) => !single.includes(k));
    expect(coldOnly).toEqual(['algorithm', 'noise']);
    expect(queryNames(op('/v1/samples/{seed}.png')).sort()).toEqual([...single, ...coldOnly].sort());
    expect(queryNames(op('/v1/samples/{seed}/stream')).sort()).toEqual(single);
    for (const path of ['/v1/restore', '/v1/restore/stream']) expect(queryNames(op(path, 'post')).sort()).toEqual(Object.keys(restoreQuerySchema.shape).sort());
    const sampler = op('/v1/samples/{seed}.png').parameters.find((p) => p.name === 'sampler');
    expect(sampler?.schema.enum).toEqual([...SAMPLER_NAMES]);
    for (const p of op('/v1/grids/{seed}.png').parameters) expect(p.description, p.name).not.toBe('');
  });

  it('documents what the validation accepts and rejects', () => {
    const params = op('/v1/grids/{seed}.png').parameters.filter((p) => p.in === 'query');
    // each example passes the real validation (with the companions some parameters need)
    const companions: Record<string, Record<string, string>> = { eta: { sampler: 'ddim' }, guidance: { class: '3' }, guidance_interval: { class: '3', guidance: '2' } };
    for (const p of params) {
      if (p.example === undefined) continue;
      const pattern = p.schema.pattern;
      if (typeof pattern === 'string') expect(new RegExp(pattern).test(p.example), `${p.name} pattern`).toBe(true);
      const query = new URLSearchParams({ ...companions[p.name], [p.name]: p.example });
      expect(() => parseRenderQuery(query, 'grid', entry), p.name).not.toThrow();
    }
    // a value outside a documented pattern or enum is rejected by the validation too
    for (const [name, bad] of [['steps', 'x1'], ['sampler', 'euler'], ['clip', 'yes'], ['scale', '-1']] as const) {
      const p = params.find((q) => q.name === name);
      const schema = p?.schema ?? {};
      const documented = Array.isArray(schema.enum) ? schema.enum.includes(bad) : new RegExp(String(schema.pattern)).test(bad);
      expect(documented, name).toBe(false);
      expect(() => parseRenderQuery(new URLSearchParams({ [name]: bad }), 'grid', entry), name).toThrow(ProblemError);
    }
  });

  it("documents the restoration's parameters with examples the validation accepts", () => {
    const restore = op('/v1/restore', 'post');
    expect(restore.requestBody?.content['image/png']).toBeDefined();
    expect(Object.keys(restore.responses).sort()).toEqual(['200', '400', '413', '415', '422', '503']);
    expect(restore.parameters.find((p) => p.name === 't')?.required).toBe(true);
    for (const p of restore.parameters) expect(p.description, p.name).not.toBe('');
    // the centre example needs a random-mask model; the rest pass with the blur fixture
    const query = new URLSearchParams(restore.parameters.filter((p) => p.example !== undefined && p.name !== 'centre').map((p) => [p.name, p.example as string]));
    expect(parseRestoreQuery(query, coldEntry)).toEqual({ t: 10, algorithm: 2, input: 'clean', centre: null, scale: 4 });
  });

  it('takes the batch body from the schema that validates it, without test-only fields', () => {
    const body = doc.components.schemas.BatchRequest ?? {};
    const properties = Object.keys((body.properties ?? {}) as Record<string, unknown>).sort();
    expect(properties).toEqual(Object.keys(batchBodySchema.shape).filter((k) => k !== 'testFaults').sort());
    expect(body.required).toEqual(['count']);
    expect(body.additionalProperties).toBe(false);
  });

  it('describes the stream events', () => {
    expect(Object.keys(doc.components.schemas).sort()).toEqual(['BatchJob', 'BatchRequest', 'DoneEvent', 'Models', 'Problem', 'RestoreDoneEvent', 'RestoreStartEvent', 'RestoreStepEvent', 'StartEvent', 'StepEvent']);
    expect(op('/v1/samples/{seed}/stream').responses['200']?.content?.['text/event-stream']).toBeDefined();
  });
});
