import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { notFound } from './envelope.js';
import { errorResponses } from './route-spec.js';
import type { RouteContext } from './routes/context.js';

/** One built file of the page, held in memory with its gzip form (the page is ~100 KB). */
interface Asset {
  body: Buffer;
  gzip: Buffer;
  type: string;
  etag: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.txt': 'text/plain; charset=utf-8',
};

// The page talks to its own origin only; inline styles are uPlot's (it sizes its canvas with them).
const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; " +
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
};

/**
 * Where the built page is: web/ beside the running file (the bundle dist/evse-priority.mjs), else
 * dist/web of the package root found by walking up (src/ under tsx, an installed package).
 */
export function defaultDashboardDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  if (existsSync(join(here, 'web', 'index.html'))) return join(here, 'web');
  for (let dir = here; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'dist', 'web');
    if (dirname(dir) === dir) return join(here, 'web');
  }
}

function loadAssets(dir: string): Map<string, Asset> | undefined {
  if (!existsSync(join(dir, 'index.html'))) return undefined;
  const assets = new Map<string, Asset>();
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)];
    if (!type) continue;
    const body = readFileSync(join(dir, name));
    assets.set(name, { body, gzip: gzipSync(body, { level: 9 }), type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
  }
  return assets;
}

function serve(asset: Asset, request: FastifyRequest, reply: FastifyReply, page: boolean) {
  reply.header('content-type', asset.type).header('etag', asset.etag).header('cache-control', 'no-cache').header('vary', 'accept-encoding');
  if (page) reply.headers(PAGE_HEADERS);
  else reply.header('x-content-type-options', 'nosniff');
  if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
  if (/\bgzip\b/.test(request.headers['accept-encoding'] ?? '')) return reply.header('content-encoding', 'gzip').send(asset.gzip);
  return reply.send(asset.body);
}

/**
 * The dashboard at `/` and its files under /assets/. Served without a token: the page holds no data;
 * it asks for a token and reads everything through /v1 like any other client.
 */
export function dashboardRoutes({ table, log }: RouteContext, dir: string): void {
  const assets = loadAssets(dir);
  const page = assets?.get('index.html');
  if (!assets || !page) log.warn({ dir }, 'dashboard not built: `/` answers 503 until `npm run build:web` has run');
  table.add({
    method: 'GET',
    url: '/',
    operationId: 'dashboard',
    tag: 'dashboard',
    summary: 'The dashboard: a live web page of the site, its EVSEs and their decisions',
    description: 'Open without a token; the page asks for one (or takes ?token=) and then talks to /v1 like any client.',
    auth: 'public',
    responses: {
      200: { description: 'The page.', contentType: 'text/html', schema: { type: 'string' } },
      503: { description: 'The page was not built (npm run build:web).', contentType: 'text/plain', schema: { type: 'string' } },
    },
    handler: async (request, reply) => {
      if (page) return serve(page, request, reply, true);
      return reply.code(503).type('text/plain; charset=utf-8').send('The evse-priority dashboard is not built. Run `npm run build:web` and restart.\n');
    },
  });
  table.add<{ Params: { name: string } }>({
    method: 'GET',
    url: '/assets/:name',
    operationId: 'dashboardAsset',
    tag: 'dashboard',
    summary: 'Script, style sheet and icon of the dashboard',
    auth: 'public',
    params: { type: 'object', required: ['name'], properties: { name: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$', description: 'File name.' } } },
    responses: {
      200: { description: 'The file (gzip when accepted).', contentType: 'application/octet-stream', schema: { type: 'string' } },
      ...errorResponses(404),
    },
    handler: async (request, reply) => {
      const asset = request.params.name === 'index.html' ? undefined : assets?.get(request.params.name);
      if (!asset) throw notFound(`no dashboard file ${JSON.stringify(request.params.name)}`);
      return serve(asset, request, reply, false);
    },
  });
}
