import type { OurHold } from './enforcer.js';
import type { EvseView } from './evse-view.js';
import { connectorKey } from '../priorities/model.js';
import { FALLBACK_CURRENT_A, type CurrentControl, type SessionSnapshot, type SiteSnapshot } from './model.js';

type ConfiguredEvse = { moduleId: string; phases: number; maxCurrentA?: number; limitsModuleId?: string };

export interface SnapshotInputs {
  views: Iterable<EvseView>;
  evses: ReadonlyArray<ConfiguredEvse>;
  priorityOf: (moduleId: string, connectorId: number) => number;
  /** What we did to the EVSE on the scheduler's behalf (the enforcer lane owns it). */
  holdOf: (moduleId: string) => Readonly<OurHold>;
  /** The limit in force for an EVSE under current control (the enforcer lane owns it). */
  limitOf: (moduleId: string) => { currentA: number; raisedAtMs: number } | undefined;
  /** `limits.min_current_a`: the least current a session is admitted with. */
  minCurrentA: number;
  /** The fail-safe of our limit messages: its current and how long after the EVSE went silent it may apply. */
  failsafe?: { currentA: number; afterSilenceMs: number };
  isOnline: (moduleId: string) => boolean;
  busy: (moduleId: string) => boolean;
  maxPowerW: number;
  nominalVoltageV: number;
}

/** Folds EVSE views, priorities and our own intents into the scheduler's plain-data input. */
export function buildSnapshot(inputs: SnapshotInputs): SiteSnapshot {
  return new SnapshotBuilder(inputs.evses).build(inputs);
}

/** What one session entry was built from: the same inputs give the same entry. */
interface EntryInputs {
  view: EvseView;
  hold: Readonly<OurHold>;
  priority: number;
  limitA: number | undefined;
  limitRaisedAtMs: number | undefined;
  online: boolean;
  busy: boolean;
}

/**
 * buildSnapshot for a controller that builds one snapshot after another: an EVSE whose inputs did not
 * change since the last build (views and holds are replaced, never mutated, so identity tells) keeps
 * its entry, so a recompute after one meter sample allocates one entry, not one per EVSE. The
 * snapshot is plain data as before; entries are never mutated once built.
 */
export class SnapshotBuilder {
  private readonly configById: ReadonlyMap<string, ConfiguredEvse>;
  private readonly entries = new Map<string, { from: EntryInputs; entry: SessionSnapshot }>();
  /** The site-wide inputs the cached entries were built with; other values drop the cache. */
  private builtWith: { minCurrentA: number; nominalVoltageV: number } | undefined;

  constructor(evses: ReadonlyArray<ConfiguredEvse>) {
    this.configById = new Map(evses.map((e) => [e.moduleId, e]));
  }

  build(inputs: Omit<SnapshotInputs, 'evses'>): SiteSnapshot {
    if (this.builtWith?.minCurrentA !== inputs.minCurrentA || this.builtWith.nominalVoltageV !== inputs.nominalVoltageV) {
      this.entries.clear();
      this.builtWith = { minCurrentA: inputs.minCurrentA, nominalVoltageV: inputs.nominalVoltageV };
    }
    const sessions: SessionSnapshot[] = [];
    for (const view of inputs.views) {
      const id = view.moduleId;
      if (!view.session) {
        this.entries.delete(id);
        continue;
      }
      const limit = inputs.limitOf(id);
      const from: EntryInputs = {
        view,
        hold: inputs.holdOf(id),
        priority: inputs.priorityOf(id, view.connectorId),
        limitA: limit?.currentA,
        limitRaisedAtMs: limit?.raisedAtMs,
        online: inputs.isOnline(id),
        busy: inputs.busy(id),
      };
      const cached = this.entries.get(id);
      if (cached && sameInputs(cached.from, from)) {
        sessions.push(cached.entry);
        continue;
      }
      const entry = sessionOf(view, view.session, this.configById.get(id), from, inputs);
      this.entries.set(id, { from, entry });
      sessions.push(entry);
    }
    return { maxPowerW: inputs.maxPowerW, nominalVoltageV: inputs.nominalVoltageV, sessions };
  }

  /** The least current of the EVSE's session in the last snapshot (0 without one or without current control), A. */
  minCurrentA(moduleId: string): number {
    return this.entries.get(moduleId)?.entry.current?.minA ?? 0;
  }
}

function sameInputs(a: EntryInputs, b: EntryInputs): boolean {
  return (
    a.view === b.view &&
    a.hold === b.hold &&
    a.priority === b.priority &&
    a.limitA === b.limitA &&
    a.limitRaisedAtMs === b.limitRaisedAtMs &&
    a.online === b.online &&
    a.busy === b.busy
  );
}

function sessionOf(
  view: EvseView,
  session: NonNullable<EvseView['session']>,
  configured: ConfiguredEvse | undefined,
  from: EntryInputs,
  inputs: Pick<SnapshotInputs, 'minCurrentA' | 'nominalVoltageV' | 'failsafe'>,
): SessionSnapshot {
  const hold = from.hold;
  const grant = hold.grant;
  // Release 2026.02 has no e2m/limits: the current EVerest enforces stands in for its current.
  const evseLimit = view.limits ?? view.enforcedCurrent;
  const phases = view.limits?.phases ?? configured?.phases ?? view.hw?.maxPhases ?? 3;
  const current = configured?.limitsModuleId !== undefined ? currentControl(view, configured, phases, from, inputs) : undefined;
  // EVerest may report 0 A while a car is paused; that is not what it would draw once resumed.
  const limitCurrentA = evseLimit && evseLimit.maxCurrentA > 0 ? evseLimit.maxCurrentA : undefined;
  const hwMaxCurrentA = view.hw?.maxCurrentA ?? configured?.maxCurrentA;
  return {
    key: connectorKey(view.moduleId, view.connectorId),
    moduleId: view.moduleId,
    connectorId: view.connectorId,
    evseState: view.state,
    ...(view.pauseReasons ? { pauseReasons: view.pauseReasons } : {}),
    pausedByUs: hold.pausedByUs,
    arrivalMs: session.startedAtMs,
    priority: from.priority,
    ...(view.state === 'Charging' ? { measuredPowerW: view.powerW } : {}),
    // Under current control EVerest's limits echo our own limit: they say nothing about the rating.
    ...(limitCurrentA !== undefined && !current ? { limitCurrentA } : {}),
    phases,
    ...(hwMaxCurrentA !== undefined ? { hwMaxCurrentA } : {}),
    ...(current ? { current } : capOf(view)),
    ...(view.lastOnMs !== undefined ? { lastOnMs: view.lastOnMs } : {}),
    ...(hold.lastOffMs !== undefined ? { lastOffMs: hold.lastOffMs } : {}),
    ...(grant ? { grantedAtMs: grant.atMs, grantedW: grant.w } : {}),
    ...(hold.interruptions !== undefined && hold.interruptions > 0 ? { interruptions: hold.interruptions } : {}),
    ...(hold.provisional === true && !hold.pausedByUs ? { provisional: true } : {}),
    ...(hold.provisionalYields !== undefined && hold.provisionalYields > 0 ? { provisionalYields: hold.provisionalYields } : {}),
    online: from.online,
    commandInFlight: from.busy,
  };
}

function currentControl(
  view: EvseView,
  configured: { maxCurrentA?: number; limitsModuleId?: string },
  phases: number,
  from: EntryInputs,
  inputs: Pick<SnapshotInputs, 'minCurrentA' | 'nominalVoltageV' | 'failsafe'>,
): CurrentControl {
  const evMaxW = view.evMaxPowerW;
  const failsafe = inputs.failsafe;
  const lastSeenMs = view.liveness.lastSeenMs;
  return {
    minA: Math.max(inputs.minCurrentA, view.hw?.minCurrentA ?? 0),
    evseMaxA: view.hw?.maxCurrentA ?? configured.maxCurrentA ?? FALLBACK_CURRENT_A,
    ...(evMaxW !== undefined && evMaxW > 0 ? { evMaxA: evMaxW / (phases * inputs.nominalVoltageV) } : {}),
    ...(from.limitA !== undefined && from.limitRaisedAtMs !== undefined ? { limitA: from.limitA, limitRaisedAtMs: from.limitRaisedAtMs } : {}),
    ...(failsafe ? { failsafeA: failsafe.currentA } : {}),
    ...(failsafe && lastSeenMs !== undefined ? { failsafeFromMs: lastSeenMs + failsafe.afterSilenceMs } : {}),
  };
}

/**
 * The most a session can draw beyond its EVSE's rating: the energy manager's limit (0 W for an idle
 * EVSE says nothing about a car about to start) and what this car has shown it takes.
 */
function capOf(view: EvseView): { capW?: number } {
  const caps: number[] = [];
  if (view.enforcedLimitW !== undefined && view.enforcedLimitW > 0) caps.push(view.enforcedLimitW);
  if (view.peakPowerW !== undefined && view.peakPowerW > 0) caps.push(view.peakPowerW);
  return caps.length > 0 ? { capW: Math.min(...caps) } : {};
}
