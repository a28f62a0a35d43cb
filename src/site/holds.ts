// The durable side of "who paused what": the enforcer lane decides holds, this file says how they are
// written (before the command that starts one goes out) and how a hold read back after a restart is
// judged against what EVerest reports.
import type { Logger } from '../log/logger.js';
import type { HoldKind, HoldRecord } from '../priorities/holds.js';
import { isBootstrapUuid, type EvseView } from './evse-view.js';

/** Where holds are kept (the priority store implements it; fsync'd before a write resolves). */
export interface HoldLedger {
  holds(): HoldRecord[];
  putHold(hold: HoldRecord): Promise<void>;
  dropHold(moduleId: string): Promise<boolean>;
}

/**
 * What EVerest's reported state says about a hold read back after a restart: still ours ('keep'), gone
 * ('drop': resumed, enabled or unplugged while we were away), or not known yet ('wait': no state
 * reported since start, or the state is in doubt).
 */
export function reconcileHold(hold: HoldRecord, view: EvseView): 'keep' | 'drop' | 'wait' {
  if (view.state === 'Unknown' || view.stateInDoubt === true) return 'wait';
  if (hold.kind === 'disable') return view.state === 'Disabled' ? 'keep' : 'drop';
  if (!view.session) return 'drop';
  // A session learned from session_info has no uuid of EVerest's; one from events must be the same session.
  const uuid = view.session.uuid;
  if (hold.session_uuid !== undefined && !isBootstrapUuid(uuid) && uuid !== hold.session_uuid) return 'drop';
  // A pause shows as ChargingPausedEVSE; a limit below the minimum as that (NoEnergy) or a car still
  // waiting to start. A car charging again is no longer held, whoever released it.
  if (hold.kind === 'pause') return view.state === 'ChargingPausedEVSE' ? 'keep' : 'drop';
  return view.state === 'Charging' ? 'drop' : 'keep';
}

/** Writes and forgets holds; a failed write is logged loudly and never stops a command (the budget comes first). */
export class HoldBook {
  constructor(
    private readonly ledger: HoldLedger | undefined,
    private readonly log: Logger,
  ) {}

  restored(): HoldRecord[] {
    return this.ledger?.holds() ?? [];
  }

  record(moduleId: string, kind: HoldKind, manual: boolean, sessionUuid: string | undefined, atMs: number): { hold: HoldRecord; written: Promise<void> } {
    const hold: HoldRecord = {
      module_id: moduleId,
      kind,
      origin: manual ? 'manual' : 'scheduler',
      ...(sessionUuid !== undefined && !isBootstrapUuid(sessionUuid) ? { session_uuid: sessionUuid } : {}),
      since: new Date(atMs).toISOString(),
    };
    const written = this.ledger
      ? this.ledger.putHold(hold).catch((err: Error) => {
          this.log.error({ moduleId, kind, err: err.message }, 'could not write the hold to the store: after a restart this EVSE may look paused by someone else');
        })
      : Promise.resolve();
    return { hold, written };
  }

  forget(moduleId: string): void {
    this.ledger?.dropHold(moduleId).catch((err: Error) => {
      this.log.error({ moduleId, err: err.message }, 'could not remove the hold from the store: after a restart it is checked against EVerest again');
    });
  }
}
