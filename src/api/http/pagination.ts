import type { FastifyReply, FastifyRequest } from 'fastify';
import { MAX_PAGE_LIMIT } from './schemas/pagination.js';

export interface PageQuery {
  offset: number;
  limit: number;
}

/** The records of one page: `start` (inclusive) to `end` (exclusive), both within the total. */
export interface PageWindow {
  start: number;
  end: number;
}

/**
 * OCPI paging of a list of `total` records: sets X-Total-Count, X-Limit and a rel="next" Link while
 * more follow, and answers which records the page holds, so a route builds only those.
 * The link is relative, or absolute under `publicBaseUrl` (http.public_base_url): never built from the
 * Host header, which any client (or a rebinding DNS name) sets to what it likes.
 */
export function pageWindow(total: number, query: PageQuery, request: FastifyRequest, reply: FastifyReply, publicBaseUrl?: string): PageWindow {
  const limit = Math.min(query.limit, MAX_PAGE_LIMIT);
  const { offset } = query;
  reply.header('X-Total-Count', String(total));
  reply.header('X-Limit', String(limit));
  if (offset + limit < total) reply.header('Link', `<${pageUrl(request, offset + limit, limit, publicBaseUrl)}>; rel="next"`);
  return { start: Math.min(offset, total), end: Math.min(offset + limit, total) };
}

/** One page of `items` (see pageWindow). */
export function page<T>(items: readonly T[], query: PageQuery, request: FastifyRequest, reply: FastifyReply, publicBaseUrl?: string): T[] {
  const { start, end } = pageWindow(items.length, query, request, reply, publicBaseUrl);
  return items.slice(start, end);
}

function pageUrl(request: FastifyRequest, offset: number, limit: number, publicBaseUrl: string | undefined): string {
  // A fixed placeholder origin only to parse path and query; it never reaches the output.
  const url = new URL(request.url, 'http://placeholder.invalid');
  url.searchParams.set('offset', String(offset));
  url.searchParams.set('limit', String(limit));
  const relative = `${url.pathname}${url.search}`;
  return publicBaseUrl === undefined ? relative : `${publicBaseUrl.replace(/\/+$/, '')}${relative}`;
}
