import type { EnableDisableSourceValue } from '../everest/payloads.js';

/** What EVerest reports as the deciding source when no entry is assigned. */
export const NO_SOURCE: Readonly<EnableDisableSourceValue> = {
  enable_source: 'Unspecified',
  enable_state: 'Unassigned',
  enable_priority: 10000,
};

/** EVerest puts this entry in the table when the EvseManager starts (and publishes `Enabled`). */
export const STARTUP_SOURCE: Readonly<EnableDisableSourceValue> = {
  enable_source: 'Unspecified',
  enable_state: 'Enable',
  enable_priority: 10000,
};

export interface Arbitration {
  enabled: boolean;
  /** The entry that decided; NO_SOURCE when every entry is Unassigned. */
  winner: EnableDisableSourceValue;
}

/**
 * EVerest's table walk, order included: the first assigned entry wins until one with a lower
 * priority number shows up, and at equal priority only a Disable can take over.
 */
export function arbitrate(entries: readonly EnableDisableSourceValue[]): Arbitration {
  let enabled = true;
  let winner: EnableDisableSourceValue = { ...NO_SOURCE };
  for (const entry of entries) {
    if (entry.enable_state === 'Unassigned') continue;
    if (winner.enable_state === 'Unassigned') {
      winner = entry;
      enabled = entry.enable_state !== 'Disable';
    } else if (entry.enable_priority === winner.enable_priority) {
      if (entry.enable_state === 'Disable') {
        winner = entry;
        enabled = false;
      }
    } else if (entry.enable_priority < winner.enable_priority) {
      winner = entry;
      enabled = entry.enable_state !== 'Disable';
    }
  }
  return { enabled, winner: { ...winner } };
}

export interface TableUpdate extends Arbitration {
  /**
   * EVerest signals Enabled/Disabled only when the winner's state moves into or out of Disable
   * (Unassigned and Enable count as the same), not on every request.
   */
  changed: boolean;
}

/** One entry per enable_source; a new request from a source replaces its entry in place. */
export class EnableTable {
  private entries: EnableDisableSourceValue[] = [];
  private active: EnableDisableSourceValue = { ...NO_SOURCE };

  constructor() {
    this.reset();
  }

  /** State right after an EvseManager start. */
  reset(): void {
    this.entries = [{ ...STARTUP_SOURCE }];
    this.active = { ...STARTUP_SOURCE };
  }

  update(source: EnableDisableSourceValue): TableUpdate {
    const last = this.active;
    const index = this.entries.findIndex((e) => e.enable_source === source.enable_source);
    const entry = { ...source };
    if (index === -1) this.entries.push(entry);
    else this.entries[index] = entry;
    const result = arbitrate(this.entries);
    this.active = result.winner;
    const changed =
      (result.winner.enable_state === 'Disable' || last.enable_state === 'Disable') &&
      result.winner.enable_state !== last.enable_state;
    return { ...result, changed };
  }

  get enabled(): boolean {
    return arbitrate(this.entries).enabled;
  }

  /** The source EVerest attaches to Enabled/Disabled session events. */
  get activeSource(): EnableDisableSourceValue {
    return { ...this.active };
  }

  get rows(): readonly EnableDisableSourceValue[] {
    return this.entries.map((e) => ({ ...e }));
  }
}
