import { forwardingStatusSchema, timestampSchema } from './common.js';

export const siteSummarySchema = {
  type: 'object',
  required: ['max_power_w', 'planned_w', 'measured_w'],
  properties: {
    max_power_w: { type: 'number', description: 'Power budget of all EVSEs together, in W.' },
    planned_w: { type: 'integer', description: 'What the current schedule grants.' },
    measured_w: { type: 'integer', description: 'Sum of the EVSE power meters.' },
    next_review_at: { ...timestampSchema, description: 'When an on/off window or reservation expires next.' },
    forwarding: { ...forwardingStatusSchema, description: 'Present while forwarding.url is set.' },
  },
} as const;

/** The data of the SSE/webhook `site` event. */
export const siteFiguresSchema = {
  type: 'object',
  description: 'The site as a live view draws it: sent at most once a second, and only when a figure changed.',
  required: ['max_power_w', 'planned_w', 'measured_w', 'evses'],
  properties: {
    max_power_w: siteSummarySchema.properties.max_power_w,
    planned_w: siteSummarySchema.properties.planned_w,
    measured_w: siteSummarySchema.properties.measured_w,
    forwarding: siteSummarySchema.properties.forwarding,
    evses: {
      type: 'array',
      description: 'Every configured EVSE in configuration order.',
      items: {
        type: 'object',
        required: ['module_id', 'power_w', 'energy_wh'],
        properties: {
          module_id: { type: 'string' },
          power_w: { type: 'integer', description: 'Measured power now.' },
          energy_wh: { type: 'integer', description: 'Energy of the current (or last) session.' },
        },
      },
    },
  },
} as const;
