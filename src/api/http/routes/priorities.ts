import { connectorRefOf, connectorKey, type PriorityRecord } from '../../../priorities/model.js';
import { prioritySetBodySchema, type PrioritySetBody } from '../../requests.js';
import type { ModuleService } from '../../service.js';
import { success, unresolved } from '../envelope.js';
import { etagOf, parseIfMatch, requireMatch } from '../if-match.js';
import { page, type PageQuery } from '../pagination.js';
import { errorResponses } from '../route-spec.js';
import { envelopeOf, etagHeaderSchema } from '../schemas/common.js';
import { pageQuerySchema, paginationHeaders } from '../schemas/pagination.js';
import { clearResultSchema, ifMatchHeadersSchema, priorityDtoSchema, priorityListSchema, priorityParamsSchema } from '../schemas/priorities.js';
import type { RouteContext } from './context.js';

export interface PriorityDto {
  module_id: string;
  connector_id: number;
  priority: number;
  assigned: boolean;
  scope: PriorityRecord['scope'] | null;
  set_by: string | null;
  set_at: string | null;
  version: number | null;
}

export function assignedDto(r: PriorityRecord): PriorityDto {
  return { module_id: r.module_id, connector_id: r.connector_id, priority: r.priority, assigned: true, scope: r.scope, set_by: r.set_by, set_at: r.set_at, version: r.version };
}

export function unassignedDto(module_id: string, connector_id: number): PriorityDto {
  return { module_id, connector_id, priority: 0, assigned: false, scope: null, set_by: null, set_at: null, version: null };
}

export function priorityPath(module_id: string, connector_id: number): string {
  return `/v1/priorities/${encodeURIComponent(module_id)}/${connector_id}`;
}

interface ConnectorParams {
  module_id: string;
  connector_id: number;
}

interface IfMatchHeaders {
  'if-match'?: string;
}

function resolveConnector(service: ModuleService, { module_id, connector_id }: ConnectorParams): ConnectorParams {
  const target = service.resolve({ by: 'module', module_id, connector_id });
  if (!target.ok) throw unresolved(target.code, target.message);
  return { module_id: target.module_id, connector_id: target.connector_id };
}

const etagHeader = { ETag: { description: 'Version of the record.', schema: etagHeaderSchema } } as const;

export function priorityRoutes({ table, service, publicBaseUrl }: RouteContext): void {
  table.add<{ Body: PrioritySetBody; Headers: IfMatchHeaders }>({
    method: 'PUT',
    url: '/v1/priorities',
    operationId: 'setPriority',
    tag: 'priorities',
    summary: 'Set the priority of one connector (upsert)',
    description:
      'gridX EVCS user priority semantics: one identifier form per request, priority -9..9, scope "session" unless given. ' +
      'Answered only after the record is durably stored. If-Match makes the write conditional.',
    auth: 'token',
    body: prioritySetBodySchema,
    headers: ifMatchHeadersSchema,
    responses: {
      200: { description: 'An assigned priority was replaced.', schema: envelopeOf(priorityDtoSchema), headers: etagHeader },
      201: {
        description: 'The connector had no assigned priority; one was created.',
        schema: envelopeOf(priorityDtoSchema),
        headers: { ...etagHeader, Location: { description: 'URL of the priority.', schema: { type: 'string' } } },
      },
      ...errorResponses(400, 401, 404, 409, 412, 413, 415, 500),
    },
    handler: async (request, reply) => {
      const body = request.body;
      const ref = connectorRefOf(body);
      const target = service.resolve(ref);
      if (!target.ok) throw unresolved(target.code, target.message);
      const ifMatch = parseIfMatch(request.headers['if-match']);
      const key = connectorKey(target.module_id, target.connector_id);
      const ifMatchVersion = ifMatch ? requireMatch(ifMatch, service.priority(target.module_id, target.connector_id), key) : undefined;
      const result = await service.setPriority(ref, body.priority, body.scope ?? 'session', request.principal, ifMatchVersion);
      if (!result.ok) throw unresolved(result.code, result.message);
      const { record, created } = result;
      reply.code(created ? 201 : 200).header('ETag', etagOf(record.version));
      if (created) reply.header('Location', priorityPath(record.module_id, record.connector_id));
      return success(assignedDto(record), created ? 'priority created' : 'priority replaced');
    },
  });

  table.add<{ Querystring: PageQuery }>({
    method: 'GET',
    url: '/v1/priorities',
    operationId: 'listPriorities',
    tag: 'priorities',
    summary: 'List the assigned priorities, oldest first',
    description: 'Connectors without an assigned priority (priority 0) are not listed. Paginated with offset/limit.',
    auth: 'token',
    query: pageQuerySchema,
    responses: {
      200: { description: 'One page of assigned priorities.', schema: envelopeOf(priorityListSchema), headers: paginationHeaders },
      ...errorResponses(400, 401),
    },
    handler: async (request, reply) => success(page(service.priorities().map(assignedDto), request.query, request, reply, publicBaseUrl)),
  });

  table.add({
    method: 'DELETE',
    url: '/v1/priorities',
    operationId: 'resetPriorities',
    tag: 'priorities',
    summary: 'Reset every priority to the default',
    auth: 'token',
    responses: {
      200: { description: 'All assigned priorities were removed.', schema: envelopeOf(clearResultSchema) },
      ...errorResponses(401, 500),
    },
    handler: async () => {
      const removed = await service.clearPriorities();
      return success({ removed }, `${removed} priorit${removed === 1 ? 'y' : 'ies'} reset`);
    },
  });

  table.add<{ Params: ConnectorParams }>({
    method: 'GET',
    url: '/v1/priorities/:module_id/:connector_id',
    operationId: 'getPriority',
    tag: 'priorities',
    summary: 'Priority of one connector',
    description: 'A known connector without an assigned priority answers 200 with priority 0 and assigned=false (gridX default).',
    auth: 'token',
    params: priorityParamsSchema,
    responses: {
      200: {
        description: 'The priority (assigned or the default); ETag only when assigned.',
        schema: envelopeOf(priorityDtoSchema),
        headers: etagHeader,
      },
      ...errorResponses(400, 401, 404, 409),
    },
    handler: async (request, reply) => {
      const { module_id, connector_id } = resolveConnector(service, request.params);
      const record = service.priority(module_id, connector_id);
      if (!record) return success(unassignedDto(module_id, connector_id), 'no priority assigned; default applies');
      reply.header('ETag', etagOf(record.version));
      return success(assignedDto(record));
    },
  });

  table.add<{ Params: ConnectorParams; Headers: IfMatchHeaders }>({
    method: 'DELETE',
    url: '/v1/priorities/:module_id/:connector_id',
    operationId: 'deletePriority',
    tag: 'priorities',
    summary: 'Reset one connector to the default priority',
    description: 'Idempotent: deleting an unassigned priority answers 200 too (see status_message). If-Match makes it conditional.',
    auth: 'token',
    params: priorityParamsSchema,
    headers: ifMatchHeadersSchema,
    responses: {
      200: { description: 'The connector now has the default priority.', schema: envelopeOf(priorityDtoSchema) },
      ...errorResponses(400, 401, 404, 409, 412, 500),
    },
    handler: async (request) => {
      const { module_id, connector_id } = resolveConnector(service, request.params);
      const ifMatch = parseIfMatch(request.headers['if-match']);
      const key = connectorKey(module_id, connector_id);
      const ifMatchVersion = ifMatch ? requireMatch(ifMatch, service.priority(module_id, connector_id), key) : undefined;
      const deleted = await service.deletePriority(module_id, connector_id, ifMatchVersion);
      return success(unassignedDto(module_id, connector_id), deleted ? 'priority deleted' : 'no priority was assigned');
    },
  });
}
