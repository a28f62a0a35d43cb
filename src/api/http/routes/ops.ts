import type { OpenApiDocument } from '../openapi.js';
import { errorResponses } from '../route-spec.js';
import { healthSchema } from '../schemas/health.js';
import type { RouteContext } from './context.js';

export function opsRoutes({ table, service, metrics }: RouteContext, openapi: () => OpenApiDocument): void {
  table.add({
    method: 'GET',
    url: '/healthz',
    operationId: 'health',
    tag: 'operations',
    summary: 'Liveness and readiness',
    description: 'Open unless http.health_public is false.',
    auth: 'health',
    responses: {
      200: { description: 'Ready: broker connected and at least one EVSE online (or none configured).', schema: healthSchema },
      503: { description: 'Not ready.', schema: healthSchema },
      ...errorResponses(401),
    },
    handler: async (_request, reply) => {
      const health = service.health();
      reply.code(health.ready ? 200 : 503);
      return { status: health.ready ? 'ok' : 'unavailable', ...health };
    },
  });

  table.add({
    method: 'GET',
    url: '/metrics',
    operationId: 'metrics',
    tag: 'operations',
    summary: 'Prometheus metrics',
    description: 'Needs a token unless http.metrics_public is true.',
    auth: 'metrics',
    responses: {
      200: { description: 'Prometheus text exposition format.', contentType: 'text/plain', schema: { type: 'string' } },
      ...errorResponses(401),
    },
    handler: async (_request, reply) => {
      reply.type(metrics.contentType);
      return metrics.metricsText();
    },
  });

  table.add({
    method: 'GET',
    url: '/v1/openapi.json',
    operationId: 'openapi',
    tag: 'operations',
    summary: 'This OpenAPI 3.1 document',
    description: 'Served as the bare document (no envelope) so OpenAPI tools can read it.',
    auth: 'token',
    responses: {
      200: { description: 'The document.', schema: { type: 'object', additionalProperties: true } },
      ...errorResponses(401),
    },
    handler: async () => openapi(),
  });
}
