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
  /**
   * Live events that came before the first list of EVSEs had loaded (every page of it): there is no
   * card to apply them to yet. Applied with that list, those at or after its timestamp; undefined
   * from then on.
   */
  early?: ApiEvent[];
}

export const initialState: DashState = { cards: [], log: [], samples: { t: [], budget: [], planned: [], measured: [] }, early: [] };

export type DashAction =
  | { kind: 'snapshot'; at: string; site: SiteSummary; evses: EvseStatusDto[] }
  | { kind: 'event'; event: ApiEvent }
  | { kind: 'action_requested'; record: ActionRecord };

export function reduce(state: DashState, action: DashAction): DashState {
  switch (action.kind) {
    case 'snapshot': {
      // By module id: a scan of the cards per EVSE is quadratic, and a site may have 1000 EVSEs.
      const before = new Map(state.cards.map((c) => [c.status.module_id, c]));
      const loaded = withSample(
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
      if (state.early === undefined) return loaded;
      // The early events the list already shows are older than it; one of the same instant may or may
      // not be in it, and applying it again changes nothing. (ISO timestamps of one server: they sort as text.)
      let next: DashState = { ...loaded, early: undefined };
      for (const event of state.early) if (event.timestamp >= action.at) next = applyEvent(next, event);
      return next;
    }
    case 'action_requested':
      return updateCard(state, action.record.module_id, (card) => ({ ...card, trail: follow(card.trail, action.record, action.record.requested_at) }));
    case 'event': {
      const event = action.event;
      // The log needs no card: it shows an early event at once; the rest of it waits for the list.
      const entry = logEntryOf(event);
      const next = entry ? logged(state, event, entry) : state;
      return next.early !== undefined ? { ...next, early: keepEarly(next.early, event) } : applyEvent(next, event);
    }
  }
}

/**
 * Early events kept at most: while the list fails to load (retried with backoff) a 1000-EVSE site
 * sends ~1000 a second. Dropping the oldest loses nothing: the list that finally loads was read after
 * them, and only events at or after its timestamp are applied.
 */
export const EARLY_EVENTS_MAX = 5_000;

function keepEarly(early: readonly ApiEvent[], event: ApiEvent): ApiEvent[] {
  // Half the cap at once when full, so the copy per event stays bounded and amortized.
  const kept = early.length >= EARLY_EVENTS_MAX ? early.slice(early.length - EARLY_EVENTS_MAX / 2) : early.slice();
  kept.push(event);
  return kept;
}

/** What an event changes on the cards, the site figures and the chart. */
function applyEvent(state: DashState, event: ApiEvent): DashState {
  switch (event.type) {
    case 'site':
      return withSample(withFigures(state, event.data), Date.parse(event.timestamp));
    case 'evse': {
      const status = event.data;
      return updateCard(state, status.module_id, (card) => (card.asOf > event.timestamp ? card : { ...card, status, asOf: event.timestamp }));
    }
    case 'action': {
      const a = event.data;
      return updateCard(state, a.module_id, (card) => ({ ...card, trail: follow(card.trail, a, event.timestamp) }));
    }
    case 'budget':
      return withSample({ ...state, ...(state.site ? { site: { ...state.site, max_power_w: event.data.max_power_w } } : {}) }, Date.parse(event.timestamp));
    default:
      return state;
  }
}

type LogLine = Omit<LogEntry, 'id' | 'at'>;

/** The event log's line for an event, if it has one. */
function logEntryOf(event: ApiEvent): LogLine | undefined {
  switch (event.type) {
    case 'site':
    case 'evse':
      return undefined;
    case 'action': {
      const a = event.data;
      // Every step of a command is on the card; the log keeps the outcome (and the first step of a person's command).
      const final = a.status !== 'requested' && a.status !== 'in_flight';
      if (!final && (a.origin === 'scheduler' || a.origin === 'reconcile' || a.status === 'in_flight')) return undefined;
      const tone = a.status === 'completed' ? 'good' : final ? 'bad' : 'info';
      const outcome = final && a.result ? `: ${a.result}` : '';
      return line('action', tone, `${a.type} (${a.origin}) ${a.status.replace('_', ' ')}${outcome}`, a.module_id);
    }
    case 'decision': {
      const d = event.data;
      const tone = d.decision === 'charge' ? 'good' : d.decision === 'leave' ? 'info' : 'warn';
      return line('decision', tone, `${d.decision}: ${d.reason}`, d.module_id);
    }
    case 'session_state':
      return line('session', 'info', `${event.data.previous} → ${event.data.state}`, event.data.module_id);
    case 'budget':
      return line('budget', 'info', `site budget set to ${(event.data.max_power_w / 1000).toFixed(1)} kW by ${event.data.set_by}`);
    case 'liveness':
      return line('liveness', event.data.status === 'online' ? 'good' : 'bad', `heartbeat ${event.data.status}`, event.data.module_id);
    case 'hlc_session_failed':
      return line('session', 'bad', `charging communication (ISO 15118) failed: ${event.data.reason}`, event.data.module_id);
    case 'hold_alarm':
      return line('action', event.data.state === 'raised' ? 'bad' : 'good', `hold alarm ${event.data.state}: ${event.data.reason}`, event.data.module_id);
  }
}

function line(kind: LogEntry['kind'], tone: LogEntry['tone'], text: string, moduleId?: string): LogLine {
  return { kind, tone, text, ...(moduleId !== undefined ? { moduleId } : {}) };
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

function logged(state: DashState, event: ApiEvent, entry: LogLine): DashState {
  if (state.log.some((e) => e.id === event.id)) return state;
  return { ...state, log: [{ id: event.id, at: event.timestamp, ...entry }, ...state.log].slice(0, LOG_LIMIT) };
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
