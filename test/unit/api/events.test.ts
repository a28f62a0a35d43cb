import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { EventFeed, toApiEvent, type ApiEvent } from '../../../src/api/events.js';
import { apiEventSchema } from '../../../src/api/http/schemas/events.js';
import type { SiteEvent } from '../../../src/site/controller.js';

const at = '2025-03-04T12:00:00.000Z';
const samples: SiteEvent[] = [
  { type: 'session_state', module_id: 'm', connector_id: 1, state: 'Charging', previous: 'Preparing', at },
  { type: 'decision', module_id: 'm', connector_id: 1, decision: 'charge', reason: '12.0 A: priority 5, 8.3 kW of the 22.0 kW budget left after higher priorities', reason_code: 'share', current_a: 12, at },
  {
    type: 'action',
    action: { id: 'a1', module_id: 'm', connector_id: 1, type: 'pause', origin: 'api', status: 'completed', result: 'EVSE answered true', reply: true, attempts: 1, requested_at: at, updated_at: at },
    at,
  },
  { type: 'budget', max_power_w: 11000, set_by: 'http', at },
  { type: 'liveness', module_id: 'm', status: 'stale', at },
];

describe('toApiEvent', () => {
  const ajv = new Ajv2020({ strict: false });
  addFormatsModule.default(ajv);
  const validate = ajv.compile(apiEventSchema);

  it.each(samples.map((s) => [s.type, s] as const))('%s validates against the documented event schema', (_type, sample) => {
    const event = toApiEvent(sample, 7);
    expect(validate(event), ajv.errorsText(validate.errors)).toBe(true);
    expect(event).toMatchObject({ id: 7, type: sample.type, timestamp: at });
    expect(event.data).not.toHaveProperty('at');
    // An action's data is the ActionRecord, whose own `type` is the command.
    if (sample.type !== 'action') expect(event.data).not.toHaveProperty('type');
  });

  it('carries the action record itself as data', () => {
    const action = samples[2] as Extract<SiteEvent, { type: 'action' }>;
    expect(toApiEvent(action, 1).data).toEqual(action.action);
  });

  it('the documented schema rejects a mismatched data shape', () => {
    expect(validate({ id: 1, type: 'budget', timestamp: at, data: { module_id: 'm', status: 'stale' } })).toBe(false);
  });
});

describe('EventFeed', () => {
  it('numbers events in order, shares them with every subscriber and replays after an id', () => {
    const source = new Subject<SiteEvent>();
    const feed = new EventFeed(source, { firstId: 100, replaySize: 3 });
    const a: ApiEvent[] = [];
    const b: ApiEvent[] = [];
    feed.events$.subscribe((e) => a.push(e));
    feed.events$.subscribe((e) => b.push(e));
    for (const s of [...samples, ...samples]) source.next(s);
    expect(a.map((e) => e.id)).toEqual([100, 101, 102, 103, 104, 105, 106, 107, 108, 109]);
    expect(b).toEqual(a);
    expect(feed.since(106).map((e) => e.id)).toEqual([107, 108, 109]);
    expect(feed.since(0).map((e) => e.id)).toEqual([107, 108, 109]);
    expect(feed.since(109)).toEqual([]);
  });

  it('starts ids at the start time in microseconds so they keep increasing across restarts', () => {
    const before = Date.now() * 1000;
    const source = new Subject<SiteEvent>();
    const feed = new EventFeed(source);
    const seen: ApiEvent[] = [];
    feed.events$.subscribe((e) => seen.push(e));
    source.next(samples[0] as SiteEvent);
    expect(seen[0]?.id).toBeGreaterThanOrEqual(before);
    expect(Number.isSafeInteger(seen[0]?.id)).toBe(true);
  });

  it('completes with its source and stops listening on close', () => {
    const source = new Subject<SiteEvent>();
    const feed = new EventFeed(source);
    let completed = false;
    feed.events$.subscribe({ complete: () => (completed = true) });
    feed.close();
    expect(completed).toBe(true);
    expect(source.observed).toBe(false);
  });
});
