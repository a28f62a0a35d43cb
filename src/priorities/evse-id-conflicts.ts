import type { Logger } from '../log/logger.js';
import { RepeatedWarnings, type RepeatsTimer } from '../log/repeats.js';

/**
 * The warn lines of the EVSE-IDs ConnectorDirectory finds claimed by more than one EVSE. A peer can
 * publish one EVSE-ID on EVSE after EVSE (bench:soak's fuzz did: hundreds of lines in 10 minutes), so
 * the first claim of each EVSE-ID per interval is logged whole and later claims of it are counted, a
 * few of their modules named. The API's 409 names every claimant at the time of the request.
 */
export class EvseIdConflictLog {
  private readonly warnings: RepeatedWarnings;

  constructor(logger: Logger, options: { intervalMs?: number; timer?: RepeatsTimer } = {}) {
    this.warnings = new RepeatedWarnings(logger, {
      message: 'EVSE-ID claimed by more than one EVSE: requests by this evse_id are refused until only one publishes it',
      ...options,
    });
  }

  /** ConnectorDirectory's onConflict. */
  readonly claimed = (evseId: string, moduleIds: readonly string[], claimant: string): void => {
    this.warnings.warnKind(evseId, claimant, { evseId, moduleIds });
  };

  /** Logs the counts of the interval so far (at shutdown). */
  flush(): void {
    this.warnings.flush();
  }
}
