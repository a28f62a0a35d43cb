export const INITIAL_CHECK_REASON = 'Initial communication check';
export const TIMEOUT_REASON = 'Communication check timeout';

export interface CommCheckStatus {
  /** false once a `false` arrived (or with a timeout <= 0): no fault is raised until restart. */
  active: boolean;
  fault: boolean;
  reason: string | undefined;
}

export type CommCheckInput = { accepted: true; changed: boolean } | { accepted: false; reason: string };

/**
 * The API module's communication check: a CommunicationFault held from start until the first
 * `true`, raised again when no `true` arrives within the window, and dropped for good by `false`.
 */
export class CommunicationFaultWatch {
  private isActive = true;
  private isFault = false;
  private why: string | undefined;
  private deadline: number | undefined;

  constructor(private readonly timeoutS: number) {
    this.reset();
  }

  reset(): void {
    this.deadline = undefined;
    if (this.timeoutS <= 0) {
      this.isActive = false;
      this.setFault(false, undefined);
      return;
    }
    this.isActive = true;
    this.setFault(true, INITIAL_CHECK_REASON);
  }

  /** Only a JSON boolean counts; EVerest fails to deserialize `"true"` or `1` and ignores them. */
  receive(value: unknown, now: number): CommCheckInput {
    if (typeof value !== 'boolean') return { accepted: false, reason: `not a boolean: ${JSON.stringify(value)}` };
    if (!this.isActive) return { accepted: true, changed: false };
    if (value) {
      this.deadline = now + this.timeoutS * 1000;
      return { accepted: true, changed: this.setFault(false, undefined) };
    }
    this.isActive = false;
    this.deadline = undefined;
    return { accepted: true, changed: this.setFault(false, undefined) };
  }

  /** Returns true when the fault state changed. */
  tick(now: number): boolean {
    if (!this.isActive || this.isFault || this.deadline === undefined || now <= this.deadline) return false;
    return this.setFault(true, TIMEOUT_REASON);
  }

  get status(): CommCheckStatus {
    return { active: this.isActive, fault: this.isFault, reason: this.why };
  }

  private setFault(fault: boolean, reason: string | undefined): boolean {
    const changed = fault !== this.isFault || reason !== this.why;
    this.isFault = fault;
    this.why = reason;
    return changed;
  }
}
