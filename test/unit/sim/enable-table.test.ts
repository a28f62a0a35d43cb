import { describe, expect, it } from 'vitest';
import type { EnableDisableSourceValue, EnableSource, EnableState } from '../../../src/everest/payloads.js';
import { EnableTable, arbitrate } from '../../../src/sim/enable-table.js';
import { EvseModel } from '../../../src/sim/evse-model.js';

const src = (enable_source: EnableSource, enable_state: EnableState, enable_priority: number): EnableDisableSourceValue => ({
  enable_source,
  enable_state,
  enable_priority,
});

interface Case {
  name: string;
  requests: EnableDisableSourceValue[];
  /** Reply to each request: the effective state after arbitration. */
  replies: boolean[];
  winner: EnableDisableSourceValue;
}

// Every sequence starts from EVerest's start-up table: Unspecified/Enable/10000.
const cases: Case[] = [
  {
    name: 'a disable from one source disables',
    requests: [src('LocalAPI', 'Disable', 100)],
    replies: [false],
    winner: src('LocalAPI', 'Disable', 100),
  },
  {
    name: 'a new request from the same source replaces its entry',
    requests: [src('LocalAPI', 'Disable', 100), src('LocalAPI', 'Enable', 100)],
    replies: [false, true],
    winner: src('LocalAPI', 'Enable', 100),
  },
  {
    name: 'Unassigned releases the claim and lets the rest decide',
    requests: [src('LocalAPI', 'Disable', 100), src('LocalAPI', 'Unassigned', 100)],
    replies: [false, true],
    winner: src('Unspecified', 'Enable', 10000),
  },
  {
    name: 'Unassigned at the highest priority is ignored',
    requests: [src('CSMS', 'Disable', 5000), src('LocalKeyLock', 'Unassigned', 0)],
    replies: [false, false],
    winner: src('CSMS', 'Disable', 5000),
  },
  {
    name: 'the lower priority number wins (enable over a weaker disable)',
    requests: [src('CSMS', 'Disable', 5000), src('LocalAPI', 'Enable', 100)],
    replies: [false, true],
    winner: src('LocalAPI', 'Enable', 100),
  },
  {
    name: 'a stronger disable cannot be overridden by a weaker enable',
    requests: [src('ServiceTechnician', 'Disable', 0), src('LocalAPI', 'Enable', 100)],
    replies: [false, false],
    winner: src('ServiceTechnician', 'Disable', 0),
  },
  {
    name: 'at equal priority Disable beats Enable (disable written first)',
    requests: [src('CSMS', 'Disable', 100), src('LocalAPI', 'Enable', 100)],
    replies: [false, false],
    winner: src('CSMS', 'Disable', 100),
  },
  {
    name: 'at equal priority Disable beats Enable (enable written first)',
    requests: [src('LocalAPI', 'Enable', 100), src('CSMS', 'Disable', 100)],
    replies: [true, false],
    winner: src('CSMS', 'Disable', 100),
  },
  {
    name: 'a Disable at 10000 beats the seeded Enable at 10000',
    requests: [src('MobileApp', 'Disable', 10000)],
    replies: [false],
    winner: src('MobileApp', 'Disable', 10000),
  },
  {
    name: 'no assigned entry at all means enabled',
    requests: [src('Unspecified', 'Unassigned', 10000), src('LocalAPI', 'Unassigned', 5)],
    replies: [true, true],
    winner: src('Unspecified', 'Unassigned', 10000),
  },
  {
    name: 'releasing the only disable when the seed was released too leaves nothing assigned',
    requests: [src('Unspecified', 'Unassigned', 10000), src('LocalAPI', 'Disable', 100), src('LocalAPI', 'Unassigned', 100)],
    replies: [true, false, true],
    winner: src('Unspecified', 'Unassigned', 10000),
  },
];

describe('enable_disable arbitration (EVerest source table)', () => {
  it.each(cases)('$name', ({ requests, replies, winner }) => {
    const table = new EnableTable();
    const got = requests.map((r) => table.update(r).enabled);
    expect(got).toEqual(replies);
    expect(table.activeSource).toEqual(winner);
    expect(table.rows.filter((r) => r.enable_source === requests.at(-1)?.enable_source)).toHaveLength(1);
  });

  it('is order dependent like the C++ walk: the first assigned entry holds at equal priority', () => {
    expect(arbitrate([src('LocalAPI', 'Enable', 5), src('CSMS', 'Enable', 5)]).winner.enable_source).toBe('LocalAPI');
    expect(arbitrate([]).enabled).toBe(true);
  });

  it.each([
    { name: 'enable -> disable', from: src('LocalAPI', 'Enable', 1), to: src('LocalAPI', 'Disable', 1), changed: true },
    { name: 'disable -> unassigned', from: src('LocalAPI', 'Disable', 1), to: src('LocalAPI', 'Unassigned', 1), changed: true },
    { name: 'enable -> unassigned', from: src('LocalAPI', 'Enable', 1), to: src('LocalAPI', 'Unassigned', 1), changed: false },
    { name: 'disable -> stronger disable', from: src('CSMS', 'Disable', 5000), to: src('LocalAPI', 'Disable', 1), changed: false },
  ])('signals a change only into or out of Disable: $name', ({ from, to, changed }) => {
    const table = new EnableTable();
    table.update(from);
    expect(table.update(to).changed).toBe(changed);
  });
});

describe('enable_disable through the EVSE model', () => {
  const events = (m: EvseModel): string[] =>
    m.drain().flatMap((o) => (o.name === 'session_event' ? [`${o.payload.event}${o.payload.source ? `(${o.payload.source.enable_source})` : ''}`] : []));

  it('publishes Enabled at start and Disabled twice on disable, as EVerest does', () => {
    const m = new EvseModel({ moduleId: 'evse_1', evseIndex: 1 }, 0);
    expect(events(m)).toEqual(['Enabled(Unspecified)']);
    expect(m.enableDisable({ connector_id: 0, source: src('LocalAPI', 'Disable', 100) }, 1000)).toBe(false);
    expect(events(m)).toEqual(['Disabled(LocalAPI)', 'Disabled(LocalAPI)']);
    expect(m.snapshot().state).toBe('Disabled');
    expect(m.enableDisable({ connector_id: 0, source: src('LocalAPI', 'Disable', 100) }, 2000)).toBe(false);
    expect(events(m)).toEqual([]);
    expect(m.enableDisable({ connector_id: 0, source: src('LocalAPI', 'Unassigned', 100) }, 3000)).toBe(true);
    expect(events(m)).toEqual(['Enabled(Unspecified)']);
    expect(m.snapshot().state).toBe('Unplugged');
  });

  it('replies false to an enable held off by a higher-priority disable, without an event', () => {
    const m = new EvseModel({ moduleId: 'evse_1', evseIndex: 1 }, 0);
    m.enableDisable({ connector_id: 1, source: src('CSMS', 'Disable', 5000) }, 1000);
    m.drain();
    expect(m.enableDisable({ connector_id: 1, source: src('LocalAPI', 'Enable', 6000) }, 2000)).toBe(false);
    expect(events(m)).toEqual([]);
  });

  it('carries connector_id 1 on Enabled/Disabled only after a request for a non-zero connector', () => {
    const m = new EvseModel({ moduleId: 'evse_1', evseIndex: 1 }, 0);
    m.drain();
    m.enableDisable({ connector_id: 1, source: src('LocalAPI', 'Disable', 100) }, 1000);
    const out = m.drain().flatMap((o) => (o.name === 'session_event' ? [o.payload] : []));
    expect(out.map((e) => e.connector_id)).toEqual([1, 1]);
    expect(out.every((e) => e.uuid === '')).toBe(true);
  });

  it('stops charging when disabled mid-session; re-enabling ends the session like EVerest (new session, new auth)', () => {
    let n = 0;
    const m = new EvseModel({ moduleId: 'evse_1', evseIndex: 1, newSessionId: () => `s${++n}` }, 0);
    m.plugIn({}, 1000);
    m.authorize(1000);
    m.drain();
    expect(m.snapshot().powerW).toBeGreaterThan(0);
    m.enableDisable({ connector_id: 0, source: src('LocalAPI', 'Disable', 100) }, 2000);
    expect(m.snapshot()).toMatchObject({ state: 'Disabled', powerW: 0, transactionActive: true });
    expect(m.pauseCharging(2100)).toBe(false);
    expect(m.resumeCharging(2200)).toBe(false);
    m.drain();
    m.enableDisable({ connector_id: 0, source: src('LocalAPI', 'Unassigned', 100) }, 3000);
    expect(events(m)).toEqual(['Enabled(Unspecified)', 'Deauthorized', 'SessionFinished', 'SessionStarted', 'AuthRequired']);
    expect(m.snapshot()).toMatchObject({ state: 'AuthRequired', sessionId: 's2', transactionActive: false });
  });
});
