import { describe, expect, it } from 'vitest';
import type { ApiEvent } from '../../../src/api/events.js';
import type { EvseStatusDto } from '../../../src/api/service.js';
import { CHART_WINDOW_MS, EARLY_EVENTS_MAX, LOG_LIMIT, initialState, reduce, type DashState } from '../../../src/web/state.js';
import type { ActionRecord } from '../../../src/site/actions.js';

const T0 = Date.parse('2026-11-29T12:00:00.000Z');
const iso = (ms: number) => new Date(T0 + ms).toISOString();

function status(moduleId: string, priority = 0): EvseStatusDto {
  return {
    module_id: moduleId,
    evse_id: null,
    serial_number: null,
    charge_box_identity: null,
    connectors: [{ id: 1, type: null, priority, priority_scope: null }],
    status: 'AVAILABLE',
    state: 'Unplugged',
    connector_id: 1,
    session: null,
    power_w: 0,
    energy_wh: 0,
    heartbeat: { status: 'online', last_seen_at: null, lost: 0, restarts: 0 },
    priority,
    decision: null,
    last_action: null,
    manual_hold: null,
  } as EvseStatusDto;
}

const site = { max_power_w: 22000, planned_w: 0, measured_w: 0 };
const snapshot = (at: number): DashState =>
  reduce(initialState, { kind: 'snapshot', at: iso(at), site, evses: [status('evse_1'), status('evse_2')] });

function action(id: string, st: ActionRecord['status']): ActionRecord {
  return { id, module_id: 'evse_1', connector_id: 1, type: 'pause', origin: 'api', status: st, attempts: 1, requested_at: iso(0), updated_at: iso(0) };
}

let nextId = 1;
function event<E extends ApiEvent>(type: E['type'], data: E['data'], at: number): ApiEvent {
  return { id: nextId++, type, timestamp: iso(at), data } as ApiEvent;
}

describe('dashboard state', () => {
  it('keeps an action lifecycle in order whichever of POST answer and stream events comes first', () => {
    let s = snapshot(0);
    s = reduce(s, { kind: 'event', event: event('action', action('a1', 'in_flight'), 10) });
    s = reduce(s, { kind: 'event', event: event('action', { ...action('a1', 'completed'), result: 'EVSE answered true' }, 20) });
    s = reduce(s, { kind: 'action_requested', record: action('a1', 'requested') });
    expect(s.cards[0]!.trail).toMatchObject({ id: 'a1', steps: ['requested', 'in_flight', 'completed'], result: 'EVSE answered true' });
    s = reduce(s, { kind: 'action_requested', record: { ...action('a2', 'requested'), type: 'resume' } });
    expect(s.cards[0]!.trail).toMatchObject({ id: 'a2', type: 'resume', steps: ['requested'] });
  });

  it('ignores an EVSE status older than the one it shows', () => {
    let s = snapshot(1000);
    s = reduce(s, { kind: 'event', event: event('evse', status('evse_2', 4), 500) });
    expect(s.cards[1]!.status.priority).toBe(0);
    s = reduce(s, { kind: 'event', event: event('evse', status('evse_2', 4), 1500) });
    expect(s.cards[1]!.status.priority).toBe(4);
  });

  it('logs newest first, once per event id, at most LOG_LIMIT entries', () => {
    let s = snapshot(0);
    const first = event('decision', { module_id: 'evse_1', connector_id: 1, decision: 'pause', reason: 'over budget', reason_code: 'over_budget', current_a: null }, 1);
    s = reduce(s, { kind: 'event', event: first });
    s = reduce(s, { kind: 'event', event: first });
    expect(s.log).toHaveLength(1);
    for (let i = 0; i < LOG_LIMIT + 5; i++) s = reduce(s, { kind: 'event', event: event('budget', { max_power_w: 1000 * i, set_by: 'test' }, 10 + i) });
    expect(s.log).toHaveLength(LOG_LIMIT);
    expect(s.log[0]!.text).toContain(`${LOG_LIMIT + 4}.0 kW`);
  });

  it('charts one point per second and drops points older than the window', () => {
    let s = snapshot(0);
    const figures = (measured: number) => ({ ...site, measured_w: measured, evses: [] });
    s = reduce(s, { kind: 'event', event: event('site', figures(100), 200) });
    expect(s.samples.t).toHaveLength(1);
    s = reduce(s, { kind: 'event', event: event('site', figures(200), 1000) });
    s = reduce(s, { kind: 'event', event: event('site', figures(300), CHART_WINDOW_MS + 1500) });
    expect(s.samples.measured).toEqual([300]);
  });

  describe('live events before the first list of EVSEs has loaded', () => {
    const list = (at: number, evses = [status('evse_1'), status('evse_2')]) => ({ kind: 'snapshot' as const, at: iso(at), site, evses });
    const budget = (w: number, at: number) => event('budget', { max_power_w: w, set_by: 'test' }, at);

    it('are kept and applied with the list, those at or after its timestamp; older ones it already shows', () => {
      let s = initialState;
      // The list is read at 1000 (its first page's timestamp) but arrives after these.
      s = reduce(s, { kind: 'event', event: event('evse', status('evse_2', 3), 900) });
      s = reduce(s, { kind: 'event', event: event('evse', status('evse_1', 5), 1000) });
      s = reduce(s, { kind: 'event', event: event('evse', status('evse_2', 7), 1200) });
      s = reduce(s, { kind: 'event', event: budget(30_000, 1300) });
      s = reduce(s, { kind: 'event', event: event('action', action('a1', 'in_flight'), 1400) });
      expect(s.cards).toEqual([]);
      expect(s.early).toHaveLength(5);

      s = reduce(s, list(1000, [status('evse_1'), status('evse_2', 3)]));
      expect(s.early).toBeUndefined();
      expect(s.cards.map((c) => [c.status.module_id, c.status.priority, c.asOf])).toEqual([
        ['evse_1', 5, iso(1000)],
        ['evse_2', 7, iso(1200)],
      ]);
      expect(s.site?.max_power_w).toBe(30_000);
      expect(s.samples.budget.at(-1)).toBe(30_000);
      expect(s.cards[0]!.trail).toMatchObject({ id: 'a1', steps: ['in_flight'] });
    });

    it('are bounded while the list does not load: the oldest go first, the newest are applied with it', () => {
      let s = initialState;
      for (let i = 0; i < EARLY_EVENTS_MAX + 10; i++) s = reduce(s, { kind: 'event', event: event('evse', status('evse_1', i % 9), 1000 + i) });
      expect(s.early!.length).toBeLessThanOrEqual(EARLY_EVENTS_MAX);
      expect(s.early!.at(-1)!.timestamp).toBe(iso(1000 + EARLY_EVENTS_MAX + 9));
      s = reduce(s, list(1000 + EARLY_EVENTS_MAX));
      expect(s.cards[0]).toMatchObject({ status: { priority: (EARLY_EVENTS_MAX + 9) % 9 }, asOf: iso(1000 + EARLY_EVENTS_MAX + 9) });
    });

    it('never take the list back to older news: figures and a budget from before it stay out', () => {
      let s = initialState;
      s = reduce(s, { kind: 'event', event: budget(5_000, 500) });
      s = reduce(s, { kind: 'event', event: event('site', { ...site, measured_w: 1, evses: [{ module_id: 'evse_1', power_w: 11, energy_wh: 2 }] }, 600) });
      s = reduce(s, list(1000));
      expect(s.site).toEqual(site);
      expect(s.cards[0]!.status.power_w).toBe(0);
    });

    it('show in the log at once, once each, before the list has loaded', () => {
      let s = initialState;
      const e = event('decision', { module_id: 'evse_1', connector_id: 1, decision: 'pause', reason: 'over budget', reason_code: 'over_budget', current_a: null }, 1100);
      s = reduce(s, { kind: 'event', event: e });
      s = reduce(s, { kind: 'event', event: budget(9_000, 1200) });
      expect(s.log.map((l) => l.text)).toEqual(['site budget set to 9.0 kW by test', 'pause: over budget']);
      s = reduce(s, list(1000));
      expect(s.log).toHaveLength(2);
    });

    it('are applied at once after the list: a later list (a reconnection) keeps what is newer than it', () => {
      let s = reduce(initialState, list(1000));
      s = reduce(s, { kind: 'event', event: event('evse', status('evse_1', 4), 1500) });
      expect(s.early).toBeUndefined();
      expect(s.cards[0]!.status.priority).toBe(4);
      s = reduce(s, list(1200));
      expect(s.cards[0]!.status.priority).toBe(4);
    });
  });
});
