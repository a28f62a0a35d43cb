import type { FastifyReply, FastifyRequest } from 'fastify';
import { MAX_PAGE_LIMIT } from './schemas/priorities.js';

export interface PageQuery {
  offset: number;
  limit: number;
}

/** OCPI paging: one page of `items`, with X-Total-Count, X-Limit and a rel="next" Link while more follow. */
export function page<T>(items: readonly T[], query: PageQuery, request: FastifyRequest, reply: FastifyReply): T[] {
  const limit = Math.min(query.limit, MAX_PAGE_LIMIT);
  const { offset } = query;
  reply.header('X-Total-Count', String(items.length));
  reply.header('X-Limit', String(limit));
  if (offset + limit < items.length) reply.header('Link', `<${pageUrl(request, offset + limit, limit)}>; rel="next"`);
  return items.slice(offset, offset + limit);
}

function pageUrl(request: FastifyRequest, offset: number, limit: number): string {
  const url = new URL(request.url, `${request.protocol}://${request.host}`);
  url.searchParams.set('offset', String(offset));
  url.searchParams.set('limit', String(limit));
  return url.toString();
}
