import { success, unknownLocation } from '../envelope.js';
import { pageWindow, type PageQuery } from '../pagination.js';
import { errorResponses } from '../route-spec.js';
import { envelopeOf, evseParamsSchema } from '../schemas/common.js';
import { evseListSchema, evseStatusSchema } from '../schemas/evses.js';
import { pageQuerySchema, paginationHeaders } from '../schemas/pagination.js';
import type { RouteContext } from './context.js';

export function evseRoutes({ table, service, publicBaseUrl }: RouteContext): void {
  table.add<{ Querystring: PageQuery }>({
    method: 'GET',
    url: '/v1/evses',
    operationId: 'listEvses',
    tag: 'evses',
    summary: 'The configured EVSEs with their state, power, priority and decision',
    description: 'In configuration order, which does not change while the module runs. Paginated with offset/limit.',
    auth: 'token',
    query: pageQuerySchema,
    responses: {
      200: { description: 'One page of EVSEs.', schema: envelopeOf(evseListSchema), headers: paginationHeaders },
      ...errorResponses(400, 401),
    },
    handler: async (request, reply) => {
      const { start, end } = pageWindow(service.evseCount, request.query, request, reply, publicBaseUrl);
      return success(service.evses(start, end));
    },
  });

  table.add<{ Params: { module_id: string } }>({
    method: 'GET',
    url: '/v1/evses/:module_id',
    operationId: 'getEvse',
    tag: 'evses',
    summary: 'One EVSE',
    auth: 'token',
    params: evseParamsSchema,
    responses: {
      200: { description: 'The EVSE.', schema: envelopeOf(evseStatusSchema) },
      ...errorResponses(400, 401, 404),
    },
    handler: async (request) => {
      const evse = service.evse(request.params.module_id);
      if (!evse) throw unknownLocation(`unknown module_id ${JSON.stringify(request.params.module_id)}`);
      return success(evse);
    },
  });
}
