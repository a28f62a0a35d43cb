import { success } from '../envelope.js';
import { errorResponses } from '../route-spec.js';
import { envelopeOf } from '../schemas/common.js';
import { siteBudgetBodySchema } from '../../requests.js';
import { siteSummarySchema } from '../schemas/site.js';
import type { RouteContext } from './context.js';

export function siteRoutes({ table, service }: RouteContext): void {
  table.add({
    method: 'GET',
    url: '/v1/site',
    operationId: 'getSite',
    tag: 'site',
    summary: 'Site budget, planned and measured power',
    auth: 'token',
    responses: {
      200: { description: 'The site.', schema: envelopeOf(siteSummarySchema) },
      ...errorResponses(401),
    },
    handler: async () => success(service.site()),
  });

  table.add<{ Body: { max_power_w: number } }>({
    method: 'PUT',
    url: '/v1/site',
    operationId: 'setSiteBudget',
    tag: 'site',
    summary: 'Change the site power budget',
    description: 'Takes effect at once (the schedule is recomputed). Not persisted: a restart uses the configured site.max_power_w.',
    auth: 'token',
    body: siteBudgetBodySchema,
    responses: {
      200: { description: 'The site with the new budget.', schema: envelopeOf(siteSummarySchema) },
      ...errorResponses(400, 401, 413, 415),
    },
    handler: async (request) => {
      service.setSiteBudget(request.body.max_power_w, request.principal);
      return success(service.site(), 'site budget changed');
    },
  });
}
