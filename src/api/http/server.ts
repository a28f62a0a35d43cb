import { fastifySSE } from '@fastify/sse';
import Fastify, { type FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { Subject, takeUntil } from 'rxjs';
import type { HttpConfig } from '../../config/types.js';
import type { Logger } from '../../log/logger.js';
import type { EventFeed } from '../events.js';
import type { PromMetrics } from '../metrics.js';
import type { ModuleService } from '../service.js';
import { bearerToken, TokenVerifier } from './auth.js';
import { AuthFailureLimiter } from './auth-limiter.js';
import { installJsonBodyParser } from './body-parser.js';
import { dashboardRoutes, defaultDashboardDir } from './dashboard.js';
import { ApiError, OCPI_STATUS } from './envelope.js';
import { HostAllowList } from './host-check.js';
import { frameworkErrorHandler, installErrorHandling } from './error-handling.js';
import { buildOpenApi, type OpenApiDocument } from './openapi.js';
import { RouteTable, type AuthPolicy } from './route-spec.js';
import { actionRoutes } from './routes/actions.js';
import type { RouteContext } from './routes/context.js';
import { eventRoutes } from './routes/events.js';
import { evseRoutes } from './routes/evses.js';
import { opsRoutes } from './routes/ops.js';
import { priorityRoutes } from './routes/priorities.js';
import { siteRoutes } from './routes/site.js';
import { SseTickets } from './sse-tickets.js';
import { openApiComponents, openApiTags } from './openapi-catalog.js';
import { validatorCompiler } from './validators.js';

export interface HttpServerOptions {
  service: ModuleService;
  /** The API event feed SSE streams from (the composition root owns it; webhooks read it too). */
  feed: EventFeed;
  http: HttpConfig;
  /** Serves /metrics and counts HTTP requests; action counting (metrics.trackActions) is the composition root's job. */
  metrics: PromMetrics;
  logger: Logger;
  /** Interval of the SSE keepalive comment (default 15 s). */
  sseKeepaliveMs?: number;
  /** Directory of the built dashboard (default dist/web of the package). */
  dashboardDir?: string;
  /** Registers extra routes before listening (the bench's baseline); they are open and not documented. */
  extend?: (app: FastifyInstance) => void | Promise<void>;
  /** Clock of the failed-authentication limiter (tests). */
  now?: () => number;
}

export interface HttpServer {
  /** Base URL the server listens on, e.g. http://127.0.0.1:8080. */
  url: string;
  /** Every route fastify serves (method and pattern), for contract checks against the document. */
  routes: ReadonlyArray<{ method: string; url: string }>;
  openapi: OpenApiDocument;
  close(): Promise<void>;
}

const WWW_AUTHENTICATE = 'Bearer realm="evse-priority"';

/**
 * The HTTP API: OCPI-style envelopes over ModuleService, an OpenAPI document built from the route
 * schemas, SSE of the site's events and Prometheus metrics.
 */
export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const { service, http, metrics } = options;
  const log = options.logger.child({ component: 'http' });
  const verifier = new TokenVerifier(http.tokens);
  const anonymousChanges = !verifier.enabled && http.allow_anonymous;
  if (anonymousChanges) {
    log.warn(
      { host: http.host, port: http.port },
      'HTTP API IS OPEN: no http.tokens configured and http.allow_anonymous is true, anyone who can reach this port can change priorities and command EVSEs. ' +
        'Set EVSE_PRIORITY_HTTP_TOKEN or http.tokens.',
    );
  } else if (!verifier.enabled) {
    log.warn(
      { host: http.host, port: http.port },
      'HTTP API has no tokens: reads are open, changes (PUT, POST, DELETE) and /metrics are refused with 403. Set EVSE_PRIORITY_HTTP_TOKEN or http.tokens ' +
        '(or http.allow_anonymous: true to accept anonymous changes).',
    );
  }
  // The document says what a client must send: nothing where no token exists to send.
  const documentedNeedsToken = (policy: AuthPolicy): boolean => verifier.enabled && needsToken(policy);
  const hosts = new HostAllowList(http.allowed_hosts);
  const limiter = new AuthFailureLimiter(http.auth_failures_per_minute, options.now);
  const needsToken = (policy: AuthPolicy): boolean => {
    if (policy === 'health') return !http.health_public;
    if (policy === 'metrics') return !http.metrics_public;
    return policy === 'token' || policy === 'token_or_ticket';
  };
  /** Without tokens nobody can present one: what would need one is served only if it reads nothing secret. */
  const anonymousRefusal = (policy: AuthPolicy, method: string): string | undefined => {
    if (verifier.enabled || anonymousChanges || !needsToken(policy)) return undefined;
    if (policy === 'metrics') return '/metrics needs a bearer token and none is configured (set http.tokens, or http.metrics_public: true)';
    if (policy === 'health') return '/healthz needs a bearer token and none is configured (set http.tokens, or http.health_public: true)';
    if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return undefined;
    return `${method} changes state and needs a bearer token, but none is configured (set http.tokens or EVSE_PRIORITY_HTTP_TOKEN; http.allow_anonymous: true accepts anonymous changes)`;
  };
  const tickets = new SseTickets();

  const app = Fastify({
    logger: false,
    bodyLimit: http.body_limit_bytes,
    exposeHeadRoutes: false,
    // SSE streams never go idle; without this, close() would wait for every client to hang up.
    forceCloseConnections: true,
    frameworkErrors: frameworkErrorHandler(log),
  });
  app.setValidatorCompiler(validatorCompiler);
  // JSON only: a text/plain body would otherwise reach validation and get a misleading 400.
  app.removeContentTypeParser('text/plain');
  installJsonBodyParser(app);
  await app.register(fastifySSE, { heartbeatInterval: options.sseKeepaliveMs ?? 15_000 });
  app.decorateRequest('principal', '');
  const served: Array<{ method: string; url: string }> = [];
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) served.push({ method, url: route.url });
  });
  installErrorHandling(app, log, http.body_limit_bytes);

  app.addHook('onRequest', async (request) => {
    // Before anything else, authentication included: a rebinding page learns nothing, not even a 401.
    if (!hosts.allows(request.headers.host)) {
      throw new ApiError(421, OCPI_STATUS.clientError, `this API does not answer for Host ${JSON.stringify(String(request.headers.host ?? '').slice(0, 100))} (http.allowed_hosts)`);
    }
    const path = request.url;
    const policy = request.routeOptions.config.auth ?? (path === '/v1' || path.startsWith('/v1/') || path.startsWith('/v1?') ? 'token' : 'public');
    const refusal = anonymousRefusal(policy, request.method);
    if (refusal !== undefined) throw new ApiError(403, OCPI_STATUS.clientError, refusal);
    if (!verifier.enabled || !needsToken(policy)) {
      request.principal = 'http';
      return;
    }
    const address = request.ip;
    const wait = limiter.retryAfterS(address);
    if (wait > 0) {
      throw new ApiError(429, OCPI_STATUS.clientError, `too many failed authentications from ${address}; try again in ${wait} s`, { 'Retry-After': String(wait) });
    }
    const token = bearerToken(request.headers.authorization);
    const ticket = policy === 'token_or_ticket' && token === undefined ? ticketOf(request.query) : undefined;
    if (ticket !== undefined) {
      const principal = tickets.redeem(ticket);
      if (principal === undefined) {
        limiter.fail(address);
        throw new ApiError(401, OCPI_STATUS.clientError, 'unknown, used or expired SSE ticket (POST /v1/events/tickets for a new one)', {
          'WWW-Authenticate': `${WWW_AUTHENTICATE}, error="invalid_token"`,
        });
      }
      request.principal = principal;
      return;
    }
    if (token === undefined) {
      limiter.fail(address);
      throw new ApiError(401, OCPI_STATUS.clientError, 'missing bearer token (Authorization: Bearer <token>)', { 'WWW-Authenticate': WWW_AUTHENTICATE });
    }
    const index = verifier.match(token);
    if (index < 0) {
      limiter.fail(address);
      log.info({ address, url: request.url.split('?')[0] }, 'invalid bearer token');
      throw new ApiError(401, OCPI_STATUS.clientError, 'invalid bearer token', { 'WWW-Authenticate': `${WWW_AUTHENTICATE}, error="invalid_token"` });
    }
    request.principal = `http:token-${index + 1}`;
  });
  app.addHook('onResponse', async (request, reply) => {
    metrics.httpRequest(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime);
  });

  // The feed outlives the server (webhooks read it too); closing the server ends its SSE streams.
  const closing = new Subject<void>();
  const shared = options.feed;
  const feed: RouteContext['feed'] = {
    since: (id) => shared.since(id),
    latest: (type) => shared.latest(type),
    events$: shared.events$.pipe(takeUntil(closing)),
  };
  const table = new RouteTable(app);
  const context: RouteContext = {
    table,
    service,
    feed,
    tickets,
    metrics,
    log,
    sse: { maxBufferedBytes: 1 << 20 },
    ...(http.public_base_url !== undefined ? { publicBaseUrl: http.public_base_url } : {}),
  };
  priorityRoutes(context);
  evseRoutes(context);
  actionRoutes(context);
  siteRoutes(context);
  eventRoutes(context);
  dashboardRoutes(context, options.dashboardDir ?? defaultDashboardDir());
  let openapi: OpenApiDocument | undefined;
  opsRoutes(context, () => {
    openapi ??= document(table, documentedNeedsToken);
    return openapi;
  });
  openapi = document(table, documentedNeedsToken);
  await options.extend?.(app);

  try {
    await app.listen({ host: http.host, port: http.port });
  } catch (error) {
    closing.next();
    await app.close();
    throw error;
  }
  const address = app.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  log.info({ url, auth: verifier.enabled ? 'bearer' : anonymousChanges ? 'open' : 'read-only' }, 'HTTP API listening');

  let closed = false;
  return {
    url,
    routes: served,
    openapi,
    async close() {
      if (closed) return;
      closed = true;
      closing.next();
      await app.close();
    },
  };
}

function document(table: RouteTable, needsToken: (policy: AuthPolicy) => boolean): OpenApiDocument {
  return buildOpenApi(table.routes, {
    title: 'evse-priority HTTP API',
    version: '1.0.0',
    description:
      'User charging priorities per connector under a site power budget, enforced on EVerest. Every /v1 response is an ' +
      'OCPI-style envelope {data, status_code, status_message, timestamp}; the event stream and this document are the exceptions.',
    tags: openApiTags,
    needsToken,
    components: openApiComponents,
  });
}

function ticketOf(query: unknown): string | undefined {
  if (typeof query !== 'object' || query === null) return undefined;
  const ticket = (query as Record<string, unknown>).ticket;
  return typeof ticket === 'string' && ticket !== '' ? ticket : undefined;
}
