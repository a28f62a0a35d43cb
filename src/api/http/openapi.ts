import type { AuthPolicy, DocumentedRoute } from './route-spec.js';
import type { JsonSchema } from './schemas/common.js';

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  paths: Record<string, Record<string, unknown>>;
  components: { securitySchemes: Record<string, unknown>; schemas: Record<string, unknown> };
  tags: Array<{ name: string; description: string }>;
}

export interface OpenApiOptions {
  title: string;
  version: string;
  description: string;
  tags: Array<{ name: string; description: string }>;
  /** Whether a route with this policy needs a token under the running configuration. */
  needsToken: (policy: AuthPolicy) => boolean;
  /** Schemas shown once under components/schemas; every use of the same object becomes a $ref. */
  components: Readonly<Record<string, JsonSchema>>;
}

/** Builds the document from the very schema objects the routes were registered with. */
export function buildOpenApi(routes: readonly DocumentedRoute[], options: OpenApiOptions): OpenApiDocument {
  const names = new Map<unknown, string>(Object.entries(options.components).map(([name, schema]) => [schema, name]));
  const ref = (schema: unknown): unknown => refify(schema, names, undefined);
  const paths: OpenApiDocument['paths'] = {};
  for (const route of routes) {
    const path = route.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const operation: Record<string, unknown> = {
      operationId: route.operationId,
      summary: route.summary,
      ...(route.description ? { description: route.description } : {}),
      tags: [route.tag],
      security: !options.needsToken(route.auth) ? [] : route.auth === 'token_or_ticket' ? [{ bearerAuth: [] }, { sseTicket: [] }] : [{ bearerAuth: [] }],
    };
    const parameters = [
      ...parametersOf(route.params, 'path', ref),
      ...parametersOf(route.query, 'query', ref),
      ...parametersOf(route.headers, 'header', ref),
    ];
    if (parameters.length > 0) operation.parameters = parameters;
    if (route.body) operation.requestBody = { required: true, content: { 'application/json': { schema: ref(route.body) } } };
    operation.responses = Object.fromEntries(
      Object.entries(route.responses).map(([status, r]) => [
        status,
        {
          description: r.description,
          ...(r.headers
            ? { headers: Object.fromEntries(Object.entries(r.headers).map(([h, spec]) => [h, { description: spec.description, schema: ref(spec.schema) }])) }
            : {}),
          ...(r.schema ? { content: { [r.contentType ?? 'application/json']: { schema: ref(r.schema) } } } : {}),
        },
      ]),
    );
    paths[path] = { ...paths[path], [route.method.toLowerCase()]: operation };
  }
  return {
    openapi: '3.1.0',
    info: { title: options.title, version: options.version, description: options.description },
    tags: options.tags,
    paths,
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'One of http.tokens (or EVSE_PRIORITY_HTTP_TOKEN).' },
        sseTicket: {
          type: 'apiKey',
          in: 'query',
          name: 'ticket',
          description: 'One-time ticket from POST /v1/events/tickets, for EventSource, which cannot send Authorization.',
        },
      },
      schemas: Object.fromEntries(Object.entries(options.components).map(([name, schema]) => [name, refify(schema, names, schema)])),
    },
  };
}

function parametersOf(schema: JsonSchema | undefined, where: 'path' | 'query' | 'header', ref: (s: unknown) => unknown): unknown[] {
  const properties = schema?.properties;
  if (!isRecord(properties)) return [];
  const required = Array.isArray(schema?.required) ? (schema.required as unknown[]) : [];
  return Object.entries(properties).map(([name, property]) => {
    const { description, ...rest } = isRecord(property) ? property : {};
    return {
      name: where === 'header' ? headerName(name) : name,
      in: where,
      required: where === 'path' || required.includes(name),
      ...(typeof description === 'string' ? { description } : {}),
      schema: ref(rest),
    };
  });
}

/** Fastify wants header schemas in lower case; the document shows the usual spelling. */
function headerName(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
}

/** A deep copy in which every named schema (other than `self`) is replaced by a $ref. */
function refify(node: unknown, names: ReadonlyMap<unknown, string>, self: unknown): unknown {
  if (node !== self) {
    const name = names.get(node);
    if (name !== undefined) return { $ref: `#/components/schemas/${name}` };
  }
  if (Array.isArray(node)) return node.map((n) => refify(n, names, self));
  if (!isRecord(node)) return node;
  return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, refify(v, names, self)]));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
