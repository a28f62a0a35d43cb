import type {
  FastifyInstance,
  FastifySchema,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
  RouteGenericInterface,
  RouteHandlerMethod,
} from 'fastify';
import { errorEnvelopeSchema, type JsonSchema } from './schemas/common.js';

/**
 * Who may call a route: 'token' always needs one (when any is configured); 'token_or_ticket' also takes a
 * one-time SSE ticket in the query (EventSource cannot send headers); the others follow http.*_public.
 */
export type AuthPolicy = 'token' | 'token_or_ticket' | 'health' | 'metrics' | 'public';

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: AuthPolicy;
  }
  interface FastifyRequest {
    /** Who made the request, e.g. "http:token-1"; recorded as set_by. */
    principal: string;
  }
}

export type HttpMethod = 'GET' | 'PUT' | 'POST' | 'DELETE';

export interface HeaderSpec {
  description: string;
  schema: JsonSchema;
}

export interface ResponseSpec {
  description: string;
  schema?: JsonSchema;
  /** Defaults to application/json; JSON responses are serialized with `schema`. */
  contentType?: string;
  headers?: Readonly<Record<string, HeaderSpec>>;
}

/** Everything the OpenAPI document says about a route. */
export interface DocumentedRoute {
  method: HttpMethod;
  url: string;
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  auth: AuthPolicy;
  body?: JsonSchema;
  params?: JsonSchema;
  query?: JsonSchema;
  headers?: JsonSchema;
  responses: Readonly<Record<number, ResponseSpec>>;
}

export interface RouteSpec<G extends RouteGenericInterface> extends DocumentedRoute {
  /** Server-Sent Events: the handler streams through reply.sse. */
  sse?: boolean;
  handler: RouteHandlerMethod<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, G>;
}

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Malformed JSON or invalid parameters (status_code 2001; status_message names the field and what was expected).',
  401: 'Missing or wrong bearer token (2000).',
  403: 'No token is configured and the route changes state (2000): set http.tokens, or http.allow_anonymous.',
  404: 'Unknown EVSE, connector or station identifier (2003), or unknown resource (2000).',
  409: 'The evse_id is claimed by more than one EVSE; address the EVSE by module_id (2000).',
  412: 'If-Match does not match the current version (2000).',
  413: 'Request body larger than http.body_limit_bytes (2001).',
  415: 'Content-Type is not application/json (2000).',
  421: 'The Host header is not in http.allowed_hosts (2000).',
  429: 'Too many failed authentications from this address; Retry-After says when to try again (2000).',
  500: 'Server error (3000).',
  503: 'Not ready.',
};

/** Error responses of a route, all with the error envelope. */
export function errorResponses(...statuses: number[]): Record<number, ResponseSpec> {
  return Object.fromEntries(
    statuses.map((s) => [s, { description: ERROR_DESCRIPTIONS[s] ?? 'Error.', schema: errorEnvelopeSchema }]),
  );
}

/** Answers the access checks in front of every route can give (http.allowed_hosts, no token configured, failed-auth limit). */
function accessErrors(spec: DocumentedRoute): Record<number, ResponseSpec> {
  const statuses = [421];
  if (spec.auth !== 'public') statuses.push(403, 429);
  return errorResponses(...statuses);
}

/** Registers routes with fastify and remembers them for the OpenAPI document: one definition, both uses. */
export class RouteTable {
  private readonly documented: DocumentedRoute[] = [];

  constructor(private readonly app: FastifyInstance) {}

  get routes(): readonly DocumentedRoute[] {
    return this.documented;
  }

  add<G extends RouteGenericInterface>(given: RouteSpec<G>): void {
    const spec: RouteSpec<G> = { ...given, responses: { ...accessErrors(given), ...given.responses } };
    const { handler, sse, ...doc } = spec;
    const response: Record<number, JsonSchema> = {};
    for (const [status, r] of Object.entries(spec.responses)) {
      if (r.schema && (r.contentType ?? 'application/json') === 'application/json') response[Number(status)] = r.schema;
    }
    const schema: FastifySchema = {
      ...(spec.body ? { body: spec.body } : {}),
      ...(spec.params ? { params: spec.params } : {}),
      ...(spec.query ? { querystring: spec.query } : {}),
      ...(spec.headers ? { headers: spec.headers } : {}),
      response,
    };
    this.app.route<G>({
      method: spec.method,
      url: spec.url,
      schema,
      config: { auth: spec.auth },
      // 'manual': no Accept negotiation, so even a refused Accept gets our envelope, never the plugin's own 406.
      ...(sse ? { sse: { kind: 'manual' as const } } : {}),
      handler,
    });
    this.documented.push(doc);
  }
}
