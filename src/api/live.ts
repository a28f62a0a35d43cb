import {
  asyncScheduler,
  distinctUntilChanged,
  filter,
  map,
  merge,
  mergeMap,
  throttleTime,
  type Observable,
  type SchedulerLike,
} from 'rxjs';
import type { SiteEvent } from '../site/controller.js';
import type { EvseView } from '../site/evse-view.js';
import { EventFeed } from './events.js';
import { sameJson } from './json-equal.js';
import type { EvseStatusDto, ModuleService, SiteFigures } from './service.js';

/** Events the API derives from the site's state for live views, next to the site's own events. */
export type LiveEvent = { type: 'site'; at: string; data: SiteFigures } | { type: 'evse'; at: string; data: EvseStatusDto };

export interface LiveEventOptions {
  /** Least time between two `site` events (default 1000 ms). */
  siteIntervalMs?: number;
  scheduler?: SchedulerLike;
}

/**
 * `site`: budget, planned and measured power and each EVSE's power and energy, at most once per
 * interval and only when a figure changed. `evse`: an EVSE's whole status (as GET /v1/evses/{id})
 * whenever something other than its meter figures changed, so a live view never has to re-fetch.
 */
export function liveEvents$(service: ModuleService, options: LiveEventOptions = {}): Observable<LiveEvent> {
  const rx = options.scheduler ?? asyncScheduler;
  const at = (): string => new Date(rx.now()).toISOString();
  return merge(
    siteFigures$(service, options.siteIntervalMs ?? 1000, rx).pipe(map((data) => ({ type: 'site', at: at(), data }) as const)),
    evseStatus$(service).pipe(map((data) => ({ type: 'evse', at: at(), data }) as const)),
  );
}

function siteFigures$(service: ModuleService, intervalMs: number, rx: SchedulerLike): Observable<SiteFigures> {
  const budget$ = service.events$.pipe(filter((e) => e.type === 'budget'));
  return merge(service.viewChanges$, service.recomputed$, budget$, service.forwarding$).pipe(
    throttleTime(intervalMs, rx, { leading: true, trailing: true }),
    map(() => service.siteFigures()),
    distinctUntilChanged((a, b) => JSON.stringify(a) === JSON.stringify(b)),
  );
}

function touchedBy(event: SiteEvent): string | undefined {
  if (event.type === 'action') return event.action.module_id;
  return event.type === 'budget' ? undefined : event.module_id;
}

/** What of a view shows in the status without an event of its own (EVSE-ID, connectors, heartbeat counters). */
function sameQuietFields(a: EvseView, b: EvseView): boolean {
  return (
    a.state === b.state &&
    a.evseId === b.evseId &&
    a.liveness.status === b.liveness.status &&
    a.liveness.lost === b.liveness.lost &&
    a.liveness.restarts === b.liveness.restarts &&
    a.session?.uuid === b.session?.uuid &&
    sameJson(a.connectors, b.connectors, NOTHING)
  );
}

const NOTHING: ReadonlySet<string> = new Set();
/** The figures that move with every meter sample or heartbeat: not a reason for an `evse` event. */
const MOVING_FIGURES: ReadonlySet<string> = new Set(['power_w', 'energy_wh', 'last_seen_at']);

function evseStatus$(service: ModuleService): Observable<EvseStatusDto> {
  // The last view that counted and the last status sent, per EVSE: compared field by field, not as JSON
  // texts built for every meter sample and every site event.
  const quiet = new Map<string, EvseView>();
  const viewTouches$ = service.viewChanges$.pipe(
    filter((view) => {
      const before = quiet.get(view.moduleId);
      quiet.set(view.moduleId, view);
      return before === undefined || !sameQuietFields(before, view);
    }),
    map((view) => view.moduleId),
  );
  const priorityTouches$ = service.priorityChanges$.pipe(
    mergeMap((change) => (change.type === 'clear' ? change.removed.map((r) => r.module_id) : [change.record.module_id])),
  );
  const eventTouches$ = service.events$.pipe(
    map(touchedBy),
    filter((id): id is string => id !== undefined),
  );
  const sent = new Map<string, EvseStatusDto>();
  return merge(eventTouches$, priorityTouches$, viewTouches$).pipe(
    map((moduleId) => {
      const dto = service.evse(moduleId);
      if (!dto) return undefined;
      const before = sent.get(moduleId);
      if (before !== undefined && sameJson(before, dto, MOVING_FIGURES)) return undefined;
      sent.set(moduleId, dto);
      return dto;
    }),
    filter((dto): dto is EvseStatusDto => dto !== undefined),
  );
}

/** The one feed SSE and webhooks share: the site's events and the live ones, numbered together. */
export function apiEventFeed(service: ModuleService, options: LiveEventOptions = {}): EventFeed {
  return new EventFeed(merge(service.events$, liveEvents$(service, options)));
}
