import { success, unknownLocation } from '../envelope.js';
import { errorResponses } from '../route-spec.js';
import { envelopeOf, evseParamsSchema } from '../schemas/common.js';
import { evseListSchema, evseStatusSchema } from '../schemas/evses.js';
import type { RouteContext } from './context.js';

export function evseRoutes({ table, service }: RouteContext): void {
  table.add({
    method: 'GET',
    url: '/v1/evses',
    operationId: 'listEvses',
    tag: 'evses',
    summary: 'Every configured EVSE with its state, power, priority and decision',
    auth: 'token',
    responses: {
      200: { description: 'All EVSEs in configuration order.', schema: envelopeOf(evseListSchema) },
      ...errorResponses(401),
    },
    handler: async () => success(service.evses()),
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
