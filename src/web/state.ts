import type { ActionRecord, ApiEvent, EvseStatusDto, SiteFigures, SiteSummary } from './types.js';

/** How far back the chart looks. */
export const CHART_WINDOW_MS = 10 * 60_000;
/** Entries kept in the event log. */
export const LOG_LIMIT = 60;

export interface ActionTrail {
  id: string;
  type: string;
  origin: string;
  /** Every status seen, in order: requested, in_flight, completed ... */
  steps: string[];
  result?: string;
  at: string;
}

export interface Card {
  status: EvseStatusDto;
  /** Server time of the newest status applied; older news is ignored. */
  asOf: string;
  trail?: ActionTrail;
}

export interface LogEntry {
  id: number;
  at: string;
  moduleId?: string;
  kind: 'action' | 'decision' | 'session' | 'budget' | 'liveness';
  tone: 'good' | 'warn' | 'bad' | 'info';
  text: string;
}

export interface Samples {
  t: number[];
  budget: number[];
  planned: number[];
  measured: number[];
}

export interface DashState {
  site?: SiteSummary;
  cards: Card[];
  log: LogEntry[];
  samples: Samples;
}

export const initialState: DashState = { cards: [], log: [], samples: { t: [], budget: [], planned: [], measured: [] } };

export type DashAction =
  | { kind: 'snapshot'; at: string; site: SiteSummary; evses: EvseStatusDto[] }
  | { kind: 'event'; event: ApiEvent }
  | { kind: 'action_requested'; record: ActionRecord };

export function reduce(state: DashState, action: DashAction): DashState {
  switch (action.kind) {
    case 'snapshot': {
      // By module id: a scan of the cards per EVSE is quadratic, and a site may have 1000 EVSEs.
      const before = new Map(state.cards.map((c) => [c.status.module_id, c]));
      return withSample(
        {
          ...state,
          site: action.site,
          cards: action.evses.map((status) => {
            const old = before.get(status.module_id);
            if (old && old.asOf > action.at) return old;
            return { status, asOf: action.at, ...(old?.trail ? { trail: old.trail } : {}) };
          }),
        },
        Date.parse(action.at),
      );
    }
    case 'action_requested':
      return updateCard(state, action.record.module_id, (card) => ({ ...card, trail: follow(card.trail, action.record, action.record.requested_at) }));
    case 'event':
      return onEvent(state, action.event);
  }
}

function onEvent(state: DashState, event: ApiEvent): DashState {
  switch (event.type) {
    case 'site':
      return withSample(withFigures(state, event.data), Date.parse(event.timestamp));
    case 'evse': {
      const status = event.data;
      return updateCard(state, status.module_id, (card) => (card.asOf > event.timestamp ? card : { ...card, status, asOf: event.timestamp }));
    }
    case 'action': {
      const a = event.data;
      const next = updateCard(state, a.module_id, (card) => ({ ...card, trail: follow(card.trail, a, event.timestamp) }));
      // Every step of a command is on the card; the log keeps the outcome (and the first step of a person's command).
      const final = a.status !== 'requested' && a.status !== 'in_flight';
      if (!final && (a.origin === 'scheduler' || a.origin === 'reconcile' || a.status === 'in_flight')) return next;
      const tone = a.status === 'completed' ? 'good' : final ? 'bad' : 'info';
      const outcome = final && a.result ? `: ${a.result}` : '';
      return logged(next, event, 'action', tone, `${a.type} (${a.origin}) ${a.status.replace('_', ' ')}${outcome}`, a.module_id);
    }
    case 'decision': {
      const d = event.data;
      const tone = d.decision === 'charge' ? 'good' : d.decision === 'leave' ? 'info' : 'warn';
      return logged(state, event, 'decision', tone, `${d.decision}: ${d.reason}`, d.module_id);
    }
    case 'session_state':
      return logged(state, event, 'session', 'info', `${event.data.previous} → ${event.data.state}`, event.data.module_id);
    case 'budget':
      return withSample(
        logged({ ...state, ...(state.site ? { site: { ...state.site, max_power_w: event.data.max_power_w } } : {}) }, event, 'budget', 'info', `site budget set to ${(event.data.max_power_w / 1000).toFixed(1)} kW by ${event.data.set_by}`),
        Date.parse(event.timestamp),
      );
    case 'liveness':
      return logged(state, event, 'liveness', event.data.status === 'online' ? 'good' : 'bad', `heartbeat ${event.data.status}`, event.data.module_id);
    case 'hlc_session_failed':
      return logged(state, event, 'session', 'bad', `charging communication (ISO 15118) failed: ${event.data.reason}`, event.data.module_id);
    case 'hold_alarm':
      return logged(state, event, 'action', event.data.state === 'raised' ? 'bad' : 'good', `hold alarm ${event.data.state}: ${event.data.reason}`, event.data.module_id);
  }
}

const STEP_RANK: Record<string, number> = { requested: 0, in_flight: 1 };

/** Steps in lifecycle order, whatever order the POST answer and the stream's events arrive in. */
function follow(trail: ActionTrail | undefined, a: ActionRecord, at: string): ActionTrail {
  const same = trail?.id === a.id;
  const seen = same ? trail.steps : [];
  const rank = (s: string) => STEP_RANK[s] ?? 2;
  const steps = seen.includes(a.status) ? seen : [...seen, a.status].sort((x, y) => rank(x) - rank(y));
  return {
    id: a.id,
    type: a.type,
    origin: a.origin,
    steps,
    ...(a.result !== undefined ? { result: a.result } : same && trail.result !== undefined ? { result: trail.result } : {}),
    at: same ? trail.at : at,
  };
}

function updateCard(state: DashState, moduleId: string, update: (card: Card) => Card): DashState {
  let changed = false;
  const cards = state.cards.map((card) => {
    if (card.status.module_id !== moduleId) return card;
    const next = update(card);
    changed ||= next !== card;
    return next;
  });
  return changed ? { ...state, cards } : state;
}

function withFigures(state: DashState, figures: SiteFigures): DashState {
  const { evses, ...site } = figures;
  const byId = new Map(evses.map((e) => [e.module_id, e]));
  return {
    ...state,
    site: { ...state.site, ...site },
    cards: state.cards.map((card) => {
      const f = byId.get(card.status.module_id);
      if (!f || (f.power_w === card.status.power_w && f.energy_wh === card.status.energy_wh)) return card;
      return { ...card, status: { ...card.status, power_w: f.power_w, energy_wh: f.energy_wh } };
    }),
  };
}

function logged(state: DashState, event: ApiEvent, kind: LogEntry['kind'], tone: LogEntry['tone'], text: string, moduleId?: string): DashState {
  if (state.log.some((e) => e.id === event.id)) return state;
  const entry: LogEntry = { id: event.id, at: event.timestamp, kind, tone, text, ...(moduleId !== undefined ? { moduleId } : {}) };
  return { ...state, log: [entry, ...state.log].slice(0, LOG_LIMIT) };
}

/** One chart point per figures update; points older than the window fall off. */
function withSample(state: DashState, t: number): DashState {
  const site = state.site;
  if (!site || !Number.isFinite(t)) return state;
  const s = state.samples;
  const cut = s.t.findIndex((x) => x >= t - CHART_WINDOW_MS);
  const from = cut < 0 ? s.t.length : cut;
  // Same second as the last point: replace it rather than stack two.
  const last = s.t.length - 1;
  const keep = last >= from && Math.floor(s.t[last]! / 1000) === Math.floor(t / 1000) ? last : s.t.length;
  return {
    ...state,
    samples: {
      t: [...s.t.slice(from, keep), t],
      budget: [...s.budget.slice(from, keep), site.max_power_w],
      planned: [...s.planned.slice(from, keep), site.planned_w],
      measured: [...s.measured.slice(from, keep), site.measured_w],
    },
  };
}
