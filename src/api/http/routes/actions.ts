import type { ActionRecord, ActionRequest } from '../../../site/actions.js';
import { notFound, success, unknownLocation } from '../envelope.js';
import { errorResponses } from '../route-spec.js';
import { actionRequestSchema } from '../../requests.js';
import { actionParamsSchema, actionRecordSchema } from '../schemas/actions.js';
import { envelopeOf, evseParamsSchema } from '../schemas/common.js';
import type { RouteContext } from './context.js';

/**
 * The action as it was accepted. The enforcer may already have sent the command by the time the
 * request returns; the POST still answers eDRV-style with "requested", and GET /v1/actions/{id} or
 * the event stream follow it from there.
 */
function asRequested(record: ActionRecord): ActionRecord {
  const { result: _result, reply: _reply, ...rest } = record;
  return { ...rest, status: 'requested', attempts: 0, updated_at: record.requested_at };
}

export function actionRoutes({ table, service, log }: RouteContext): void {
  table.add<{ Params: { module_id: string }; Body: ActionRequest }>({
    method: 'POST',
    url: '/v1/evses/:module_id/actions',
    operationId: 'requestAction',
    tag: 'actions',
    summary: 'Ask an EVSE to pause, resume, enable, disable, release, stop or unlock',
    description:
      'Accepted for the enforcer, which sends one command per EVSE at a time and confirms it from the EVSE state. ' +
      'Follow it with GET /v1/actions/{id}, the event stream or a webhook.',
    auth: 'token',
    params: evseParamsSchema,
    body: actionRequestSchema,
    responses: {
      202: {
        description: 'Accepted; status "requested".',
        schema: envelopeOf(actionRecordSchema),
        headers: { Location: { description: 'URL of the action.', schema: { type: 'string' } } },
      },
      ...errorResponses(400, 401, 404, 413, 415),
    },
    handler: async (request, reply) => {
      const { module_id } = request.params;
      const { type, connector_id, reason } = request.body;
      const result = service.requestAction(
        module_id,
        { type, ...(connector_id !== undefined ? { connector_id } : {}), ...(reason !== undefined ? { reason } : {}) },
        'api',
      );
      if (!result.ok) throw unknownLocation(result.message);
      const record = result.action;
      log.info({ action: record.id, module_id, type, by: request.principal }, 'action requested over HTTP');
      reply.code(202).header('Location', `/v1/actions/${encodeURIComponent(record.id)}`);
      return success(asRequested(record), 'action requested');
    },
  });

  table.add<{ Params: { id: string } }>({
    method: 'GET',
    url: '/v1/actions/:id',
    operationId: 'getAction',
    tag: 'actions',
    summary: 'Current status of an action',
    auth: 'token',
    params: actionParamsSchema,
    responses: {
      200: { description: 'The action.', schema: envelopeOf(actionRecordSchema) },
      ...errorResponses(400, 401, 404),
    },
    handler: async (request) => {
      const action = service.action(request.params.id);
      if (!action) throw notFound(`unknown action ${JSON.stringify(request.params.id)}`);
      return success({ ...action });
    },
  });
}
