import type { OurHold } from './enforcer.js';
import type { EvseView } from './evse-view.js';
import { connectorKey } from '../priorities/model.js';
import { FALLBACK_CURRENT_A, type CurrentControl, type SessionSnapshot, type SiteSnapshot } from './model.js';

export interface SnapshotInputs {
  views: Iterable<EvseView>;
  evses: ReadonlyArray<{ moduleId: string; phases: number; maxCurrentA?: number; limitsModuleId?: string }>;
  priorityOf: (moduleId: string, connectorId: number) => number;
  /** What we did to the EVSE on the scheduler's behalf (the enforcer lane owns it). */
  holdOf: (moduleId: string) => Readonly<OurHold>;
  /** The limit in force for an EVSE under current control (the enforcer lane owns it). */
  limitOf: (moduleId: string) => { currentA: number; raisedAtMs: number } | undefined;
  /** `limits.min_current_a`: the least current a session is admitted with. */
  minCurrentA: number;
  isOnline: (moduleId: string) => boolean;
  busy: (moduleId: string) => boolean;
  maxPowerW: number;
  nominalVoltageV: number;
}

/** Folds EVSE views, priorities and our own intents into the scheduler's plain-data input. */
export function buildSnapshot(inputs: SnapshotInputs): SiteSnapshot {
  const configById = new Map(inputs.evses.map((e) => [e.moduleId, e]));
  const sessions: SessionSnapshot[] = [];
  for (const view of inputs.views) {
    if (!view.session) continue;
    const configured = configById.get(view.moduleId);
    const hold = inputs.holdOf(view.moduleId);
    const grant = hold.grant;
    // Release 2026.02 has no e2m/limits: the current EVerest enforces stands in for its current.
    const evseLimit = view.limits ?? view.enforcedCurrent;
    const phases = view.limits?.phases ?? configured?.phases ?? view.hw?.maxPhases ?? 3;
    const current = configured?.limitsModuleId !== undefined ? currentControl(view, configured, phases, inputs) : undefined;
    // EVerest may report 0 A while a car is paused; that is not what it would draw once resumed.
    const limitCurrentA = evseLimit && evseLimit.maxCurrentA > 0 ? evseLimit.maxCurrentA : undefined;
    const hwMaxCurrentA = view.hw?.maxCurrentA ?? configured?.maxCurrentA;
    sessions.push({
      key: connectorKey(view.moduleId, view.connectorId),
      moduleId: view.moduleId,
      connectorId: view.connectorId,
      evseState: view.state,
      ...(view.pauseReasons ? { pauseReasons: view.pauseReasons } : {}),
      pausedByUs: hold.pausedByUs,
      arrivalMs: view.session.startedAtMs,
      priority: inputs.priorityOf(view.moduleId, view.connectorId),
      ...(view.state === 'Charging' ? { measuredPowerW: view.powerW } : {}),
      // Under current control EVerest's limits echo our own limit: they say nothing about the rating.
      ...(limitCurrentA !== undefined && !current ? { limitCurrentA } : {}),
      phases,
      ...(hwMaxCurrentA !== undefined ? { hwMaxCurrentA } : {}),
      ...(current ? { current } : capOf(view)),
      ...(view.lastOnMs !== undefined ? { lastOnMs: view.lastOnMs } : {}),
      ...(hold.lastOffMs !== undefined ? { lastOffMs: hold.lastOffMs } : {}),
      ...(grant ? { grantedAtMs: grant.atMs, grantedW: grant.w } : {}),
      online: inputs.isOnline(view.moduleId),
      commandInFlight: inputs.busy(view.moduleId),
    });
  }
  return { maxPowerW: inputs.maxPowerW, nominalVoltageV: inputs.nominalVoltageV, sessions };
}

function currentControl(
  view: EvseView,
  configured: { maxCurrentA?: number; limitsModuleId?: string },
  phases: number,
  inputs: SnapshotInputs,
): CurrentControl {
  const limit = inputs.limitOf(view.moduleId);
  const evMaxW = view.evMaxPowerW;
  return {
    minA: Math.max(inputs.minCurrentA, view.hw?.minCurrentA ?? 0),
    evseMaxA: view.hw?.maxCurrentA ?? configured.maxCurrentA ?? FALLBACK_CURRENT_A,
    ...(evMaxW !== undefined && evMaxW > 0 ? { evMaxA: evMaxW / (phases * inputs.nominalVoltageV) } : {}),
    ...(limit ? { limitA: limit.currentA, limitRaisedAtMs: limit.raisedAtMs } : {}),
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
