import { describe, expect, it } from 'vitest';
import { buildOpenApi } from '../../../src/api/http/openapi.js';
import type { DocumentedRoute } from '../../../src/api/http/route-spec.js';

const thing = { type: 'object', properties: { n: { type: 'integer' } } };
const wrapper = { type: 'object', properties: { data: thing, list: { type: 'array', items: thing } } };

const routes: DocumentedRoute[] = [
  {
    method: 'PUT',
    url: '/v1/things/:id/:part',
    operationId: 'putThing',
    summary: 'Put',
    tag: 't',
    auth: 'token',
    params: { type: 'object', required: ['id', 'part'], properties: { id: { type: 'string', description: 'The id.' }, part: { type: 'integer' } } },
    query: { type: 'object', required: ['q'], properties: { q: { type: 'string' }, opt: { type: 'integer' } } },
    headers: { type: 'object', properties: { 'if-match': { type: 'string' } } },
    body: thing,
    responses: { 200: { description: 'ok', schema: wrapper, headers: { ETag: { description: 'v', schema: { type: 'string' } } } } },
  },
  {
    method: 'GET',
    url: '/metrics',
    operationId: 'metrics',
    summary: 'M',
    tag: 't',
    auth: 'metrics',
    responses: { 200: { description: 'text', contentType: 'text/plain', schema: { type: 'string' } } },
  },
];

describe('buildOpenApi', () => {
  const doc = buildOpenApi(routes, {
    title: 'T',
    version: '1',
    description: 'D',
    tags: [{ name: 't', description: 'tag' }],
    needsToken: (policy) => policy === 'token',
    components: { Thing: thing },
  });
  const op = doc.paths['/v1/things/{id}/{part}']?.put as Record<string, unknown>;

  it('turns fastify paths, params, query and headers into OpenAPI parameters', () => {
    expect(op.parameters).toEqual([
      { name: 'id', in: 'path', required: true, description: 'The id.', schema: { type: 'string' } },
      { name: 'part', in: 'path', required: true, schema: { type: 'integer' } },
      { name: 'q', in: 'query', required: true, schema: { type: 'string' } },
      { name: 'opt', in: 'query', required: false, schema: { type: 'integer' } },
      { name: 'If-Match', in: 'header', required: false, schema: { type: 'string' } },
    ]);
  });

  it('refers to named schemas wherever the same object is used', () => {
    expect(op.requestBody).toEqual({ required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/Thing' } } } });
    expect(op.responses).toEqual({
      200: {
        description: 'ok',
        headers: { ETag: { description: 'v', schema: { type: 'string' } } },
        content: {
          'application/json': {
            schema: { type: 'object', properties: { data: { $ref: '#/components/schemas/Thing' }, list: { type: 'array', items: { $ref: '#/components/schemas/Thing' } } } },
          },
        },
      },
    });
    expect(doc.components.schemas.Thing).toEqual(thing);
  });

  it('states per operation whether a token is needed, and keeps other content types', () => {
    expect(op.security).toEqual([{ bearerAuth: [] }]);
    const metrics = doc.paths['/metrics']?.get as Record<string, unknown>;
    expect(metrics.security).toEqual([]);
    expect(metrics.responses).toEqual({ 200: { description: 'text', content: { 'text/plain': { schema: { type: 'string' } } } } });
    expect(doc.openapi).toBe('3.1.0');
  });
});
