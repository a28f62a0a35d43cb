import type { JsonSchema } from './schemas/common.js';
import { errorEnvelopeSchema } from './schemas/common.js';
import { actionRequestSchema, prioritySetBodySchema, siteBudgetBodySchema } from '../requests.js';
import { actionRecordSchema } from './schemas/actions.js';
import { apiEventSchema } from './schemas/events.js';
import { evseStatusSchema } from './schemas/evses.js';
import { healthSchema } from './schemas/health.js';
import { priorityDtoSchema } from './schemas/priorities.js';
import { siteSummarySchema } from './schemas/site.js';

/** Schemas the document names under components/schemas (by object identity, see buildOpenApi). */
export const openApiComponents: Readonly<Record<string, JsonSchema>> = {
  ErrorResponse: errorEnvelopeSchema,
  Priority: priorityDtoSchema,
  PrioritySetRequest: prioritySetBodySchema,
  Evse: evseStatusSchema,
  Action: actionRecordSchema,
  ActionRequest: actionRequestSchema,
  Site: siteSummarySchema,
  SiteBudgetRequest: siteBudgetBodySchema,
  Event: apiEventSchema,
  Health: healthSchema,
};

export const openApiTags = [
  { name: 'priorities', description: 'User charging priorities per connector (gridX EVCS user priority semantics).' },
  { name: 'evses', description: 'EVSE status.' },
  { name: 'actions', description: 'Commands to an EVSE, requested -> completed | rejected | failed | timed_out.' },
  { name: 'site', description: 'Site power budget.' },
  { name: 'events', description: 'Server-Sent Events.' },
  { name: 'operations', description: 'Health, metrics and this document.' },
  { name: 'dashboard', description: 'The web page at / (no token needed to load it; it signs in with one).' },
];
