import type { LimitsContract } from '../everest/contract.js';
import { importEntryAt, type ExternalLimits } from '../everest/external-limits.js';
import { CommunicationFaultWatch } from './comm-check.js';

/** One EnergyNode directly above an EvseManager, with an external_energy_limits_consumer_API module on it. */
export interface SimLimitsModule {
  /** The API module's id (evse-priority's `evses[].limits_module_id`). */
  limitsModuleId: string;
  /** The EVSE module below the node. */
  moduleId: string;
  /** The node's fuse_limit_A: clamps every external limit and applies while none is set (default 32). */
  fuseLimitA?: number;
}

export const DEFAULT_FUSE_LIMIT_A = 32;

/** The simulator's EnergyNodes for the EVSEs of an evse-priority configuration that have a limits module. */
export function limitsModulesOf(evses: ReadonlyArray<{ module_id: string; limits_module_id?: string | undefined }>): SimLimitsModule[] {
  return evses.flatMap((e) => (e.limits_module_id === undefined ? [] : [{ moduleId: e.module_id, limitsModuleId: e.limits_module_id }]));
}

export type LimitsOutcome =
  | { kind: 'limits'; value: ExternalLimits }
  | { kind: 'comm_check'; value: boolean; changed: boolean }
  /** EVerest only logs what it cannot parse; nothing goes back on the wire. */
  | { kind: 'ignored'; reason: string };

/** The limit in force and who set it, as the energy manager hands it to the EvseManager. */
export interface NodeLimit {
  currentA: number;
  source: string;
}

/**
 * An EnergyNode as EVerest runs it (modules/EnergyManagement/EnergyNode) plus its API module: each
 * set_external_limits replaces the whole schedule; the entry in force is the last one whose timestamp
 * has passed (the first one even before its time, the last one for ever); the root-side current is
 * clamped to the fuse; an empty schedule_import falls back to the fuse. Nothing ever expires a limit,
 * and a failing communication check changes nothing about it.
 */
export class EnergyNodeModel {
  readonly limitsModuleId: string;
  readonly moduleId: string;
  readonly fuseLimitA: number;
  readonly comm: CommunicationFaultWatch;
  heartbeat = 0;
  private schedule: ExternalLimits | undefined;

  constructor(config: SimLimitsModule, communicationCheckTimeoutS: number) {
    this.limitsModuleId = config.limitsModuleId;
    this.moduleId = config.moduleId;
    this.fuseLimitA = config.fuseLimitA ?? DEFAULT_FUSE_LIMIT_A;
    this.comm = new CommunicationFaultWatch(communicationCheckTimeoutS);
  }

  /** The last schedule received, if any. */
  get limits(): ExternalLimits | undefined {
    return this.schedule;
  }

  limitAt(now: number): NodeLimit {
    const fuse = { currentA: this.fuseLimitA, source: `${this.limitsModuleId}/module_config` };
    if (!this.schedule) return fuse;
    const limit = importEntryAt(this.schedule, now)?.limits_to_root.ac_max_current_A;
    if (limit === undefined || limit.value > this.fuseLimitA) return fuse;
    return { currentA: limit.value, source: limit.source };
  }

  /** Handles one message on `m2e/<name>` of this API module. */
  receive(name: string, raw: Buffer, contract: LimitsContract, now: number): LimitsOutcome {
    if (name !== 'set_external_limits' && name !== 'communication_check') return { kind: 'ignored', reason: `unknown command ${name}` };
    let value: unknown;
    try {
      value = JSON.parse(raw.toString('utf8'));
    } catch {
      return { kind: 'ignored', reason: `${name}: payload is not JSON` };
    }
    const checked = contract.validateSend(name, value);
    if (!checked.ok) return { kind: 'ignored', reason: `${name}: ${checked.reason}` };
    if (name === 'communication_check') {
      const result = this.comm.receive(value, now);
      if (!result.accepted) return { kind: 'ignored', reason: `communication_check: ${result.reason}` };
      return { kind: 'comm_check', value: value as boolean, changed: result.changed };
    }
    this.schedule = value as ExternalLimits;
    return { kind: 'limits', value: this.schedule };
  }

  /** A process restart forgets the schedule: the node starts again from its fuse. */
  restart(): void {
    this.schedule = undefined;
    this.heartbeat = 0;
    this.comm.reset();
  }
}
