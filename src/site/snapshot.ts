import type { EvseView } from './evse-view.js';
import { connectorKey } from '../priorities/model.js';
import type { SessionSnapshot, SiteSnapshot } from './model.js';

export interface Grant {
  atMs: number;
  w: number;
}

/** What the enforcer last asked of an EVSE on the scheduler's behalf (our intent, per the model's contract). */
export interface OurIntent {
  pausedByUs: boolean;
  lastOffMs?: number;
}

export interface SnapshotInputs {
  views: Iterable<EvseView>;
  evses: ReadonlyArray<{ moduleId: string; phases: number; maxCurrentA?: number }>;
  priorityOf: (moduleId: string, connectorId: number) => number;
  grants: ReadonlyMap<string, Grant>;
  intents: ReadonlyMap<string, OurIntent>;
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
    const grant = inputs.grants.get(view.moduleId);
    const intent = inputs.intents.get(view.moduleId);
    // EVerest may report 0 A while a car is paused; that is not what it would draw once resumed.
    const limitCurrentA = view.limits && view.limits.maxCurrentA > 0 ? view.limits.maxCurrentA : undefined;
    const hwMaxCurrentA = view.hw?.maxCurrentA ?? configured?.maxCurrentA;
    sessions.push({
      key: connectorKey(view.moduleId, view.connectorId),
      moduleId: view.moduleId,
      connectorId: view.connectorId,
      evseState: view.state,
      pausedByUs: intent?.pausedByUs ?? false,
      arrivalMs: view.session.startedAtMs,
      priority: inputs.priorityOf(view.moduleId, view.connectorId),
      ...(view.state === 'Charging' ? { measuredPowerW: view.powerW } : {}),
      ...(limitCurrentA !== undefined ? { limitCurrentA } : {}),
      phases: view.limits?.phases ?? configured?.phases ?? view.hw?.maxPhases ?? 3,
      ...(hwMaxCurrentA !== undefined ? { hwMaxCurrentA } : {}),
      ...capOf(view),
      ...(view.lastOnMs !== undefined ? { lastOnMs: view.lastOnMs } : {}),
      ...(intent?.lastOffMs !== undefined ? { lastOffMs: intent.lastOffMs } : view.lastOffMs !== undefined ? { lastOffMs: view.lastOffMs } : {}),
      ...(grant ? { grantedAtMs: grant.atMs, grantedW: grant.w } : {}),
      online: inputs.isOnline(view.moduleId),
      commandInFlight: inputs.busy(view.moduleId),
    });
  }
  return { maxPowerW: inputs.maxPowerW, nominalVoltageV: inputs.nominalVoltageV, sessions };
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
