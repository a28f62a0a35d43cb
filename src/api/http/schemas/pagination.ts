// OCPI paging (offset/limit) of every list route. Imports nothing: the dashboard bundle takes the
// limits from here too.

export const DEFAULT_PAGE_LIMIT = 50;
export const MAX_PAGE_LIMIT = 500;

export const pageQuerySchema = {
  type: 'object',
  properties: {
    offset: { type: 'integer', minimum: 0, default: 0, description: 'Index of the first record to return.' },
    limit: {
      type: 'integer',
      minimum: 1,
      default: DEFAULT_PAGE_LIMIT,
      description: `Records per page; values above ${MAX_PAGE_LIMIT} are served as ${MAX_PAGE_LIMIT} (X-Limit says which limit applied).`,
    },
  },
} as const;

export const paginationHeaders = {
  'X-Total-Count': { description: 'Number of records across all pages.', schema: { type: 'integer' } },
  'X-Limit': { description: 'The page size that applied.', schema: { type: 'integer' } },
  Link: { description: 'RFC 8288 link to the next page (rel="next"), absent on the last page.', schema: { type: 'string' } },
} as const;
