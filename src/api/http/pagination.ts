import type { FastifyReply, FastifyRequest } from 'fastify';
import { MAX_PAGE_LIMIT } from './schemas/priorities.js';

export interface PageQuery {
  offset: number;
  limit: number;
}

/**
 * OCPI paging: one page of `items`, with X-Total-Count, X-Limit and a rel="next" Link while more follow.
 * The link is relative, or absolute under `publicBaseUrl` (http.public_base_url): never built from the
 * Host header, which any client (or a rebinding DNS name) sets to what it likes.
 */
export function page<T>(items: readonly T[], query: PageQuery, request: FastifyRequest, reply: FastifyReply, publicBaseUrl?: string): T[] {
  const limit = Math.min(query.limit, MAX_PAGE_LIMIT);
  const { offset } = query;
  reply.header('X-Total-Count', String(items.length));
  reply.header('X-Limit', String(limit));
  if (offset + limit < items.length) reply.header('Link', `<${pageUrl(request, offset + limit, limit, publicBaseUrl)}>; rel="next"`);
  return items.slice(offset, offset + limit);
}

function pageUrl(request: FastifyRequest, offset: number, limit: number, publicBaseUrl: string | undefined): string {
  // A fixed placeholder origin only to parse path and query; it never reaches the output.
  const url = new URL(request.url, 'http://placeholder.invalid');
  url.searchParams.set('offset', String(offset));
  url.searchParams.set('limit', String(limit));
  const relative = `${url.pathname}${url.search}`;
  return publicBaseUrl === undefined ? relative : `${publicBaseUrl.replace(/\/+$/, '')}${relative}`;
}
