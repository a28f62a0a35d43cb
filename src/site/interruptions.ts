// The durable side of "how often we interrupted this session" (the allocator's protection counts it):
// the enforcer lane counts, this file says how the count is written (when it changes) and how a count
// read back after a restart is judged against what EVerest reports.
import type { Logger } from '../log/logger.js';
import type { InterruptionRecord } from '../priorities/interruptions.js';
import { isBootstrapUuid, type EvseView } from './evse-view.js';

/** Where the counts are kept (the priority store implements it; fsync'd before a write resolves). */
export interface InterruptionLedger {
  interruptions(): InterruptionRecord[];
  putInterruptions(record: InterruptionRecord): Promise<void>;
  dropInterruptions(moduleId: string): Promise<boolean>;
}

/**
 * session_info reports whole Wh and lags the meter by a sample: a session reporting less than the
 * count's energy by more than this is another session (a session's charged energy never goes down).
 */
export const ENERGY_SLACK_WH = 10;

/**
 * What EVerest's reported state says about a count: still this session's ('keep'), the session is
 * over or another one runs ('drop'), or not known yet ('wait': no state since start, the state is in
 * doubt, or the FinishedEV that release 2026.02 shows while a pause passes through StoppingCharging).
 * A session learned from session_info only carries no uuid: it is taken as the same session (as
 * reconcileHold does) unless it has charged less than the session had when the count was written.
 */
export function reconcileInterruptions(record: InterruptionRecord, view: EvseView): 'keep' | 'drop' | 'wait' {
  if (view.state === 'Unknown' || view.stateInDoubt === true || view.state === 'FinishedEV') return 'wait';
  if (!view.session || view.state === 'Finished' || view.state === 'FinishedEVSE') return 'drop';
  const uuid = view.session.uuid;
  if (!isBootstrapUuid(uuid)) return record.session_uuid === undefined || record.session_uuid === uuid ? 'keep' : 'drop';
  return view.energyWh + ENERGY_SLACK_WH < record.energy_wh ? 'drop' : 'keep';
}

/** Writes and forgets counts; a failed write is logged and never stops a command (the budget comes first). */
export class InterruptionBook {
  constructor(
    private readonly ledger: InterruptionLedger | undefined,
    private readonly log: Logger,
  ) {}

  restored(): InterruptionRecord[] {
    return this.ledger?.interruptions() ?? [];
  }

  /**
   * The count of the session on `view` changed. Its uuid is EVerest's when the view knows it, else the
   * one this session's count already carried (`previous`, read back after a restart).
   */
  record(moduleId: string, counts: { interruptions: number; provisionalYields: number }, view: EvseView | undefined, previous: InterruptionRecord | undefined, atMs: number): InterruptionRecord {
    const viewUuid = view?.session?.uuid;
    const uuid = viewUuid !== undefined && !isBootstrapUuid(viewUuid) ? viewUuid : previous?.session_uuid;
    const record: InterruptionRecord = {
      module_id: moduleId,
      ...(uuid !== undefined ? { session_uuid: uuid } : {}),
      interruptions: counts.interruptions,
      provisional_yields: counts.provisionalYields,
      energy_wh: Math.max(0, Math.floor(view?.energyWh ?? 0)),
      at: new Date(atMs).toISOString(),
    };
    this.ledger?.putInterruptions(record).catch((err: Error) => {
      this.log.error({ moduleId, err: err.message }, 'could not write the interruption count to the store: after a restart this session may be interrupted once more');
    });
    return record;
  }

  forget(moduleId: string): void {
    this.ledger?.dropInterruptions(moduleId).catch((err: Error) => {
      this.log.error({ moduleId, err: err.message }, 'could not remove the interruption count from the store: after a restart it is checked against EVerest again');
    });
  }
}
