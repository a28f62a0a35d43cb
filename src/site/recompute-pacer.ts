// Recompute pacing: how often the site may re-plan. A re-plan walks every EVSE (1000 at a large
// site), so under a flood of meter samples and events it must take a bounded share of the event loop,
// or the communication check and everything else on the loop starve. Pure timing policy: what a
// recompute does is the caller's.
import { performance } from 'node:perf_hooks';
import type { SchedulerLike, Subscription } from 'rxjs';

/** 'decide': a person or a car caused it (run at once when the budget allows); 'routine': a meter-type update. */
export type RecomputeUrgency = 'decide' | 'routine';

export interface RecomputePacerOptions {
  /** The recompute itself; synchronous. */
  run: () => void;
  /** Timers and "now" (virtual in tests). */
  scheduler: SchedulerLike;
  /**
   * Most share of the loop recomputes may take under a flood: after a recompute that cost `c` ms the
   * next waits `c * (1 / duty - 1)` ms (0.25: at most a quarter of the time planning).
   */
  duty?: number;
  /** Routine updates are coalesced at least this long (a meter sample rarely changes a plan). */
  routineIntervalMs?: number;
  /** Reads a monotonic clock in ms to measure what a recompute cost; performance.now unless a test injects one. */
  costClock?: () => number;
}

export const DEFAULT_DUTY = 0.25;
export const DEFAULT_ROUTINE_INTERVAL_MS = 10;

/**
 * Runs a recompute at once for a 'decide' request when the last one's cost allows it (the leading edge:
 * a reaction to a person or a car never waits for a meter tick or a timer), and otherwise coalesces
 * every request - of this turn and until the cost allows the next - into one recompute at the earliest
 * moment the duty cycle permits. 'routine' requests wait at least `routineIntervalMs` since the last
 * recompute as well. A request made during a recompute (a synchronous echo) is served the same way.
 */
export class RecomputePacer {
  private readonly duty: number;
  private readonly routineIntervalMs: number;
  private readonly costClock: () => number;
  private running = false;
  /** Strongest urgency asked for since the last recompute began; undefined when nothing is pending. */
  private pending: RecomputeUrgency | undefined;
  private timer: Subscription | undefined;
  private timerAt = Infinity;
  /** Scheduler time at which the last recompute ended, and its smoothed cost, ms. */
  private lastEndAt = -Infinity;
  private costMs = 0;
  private runs = 0;

  constructor(private readonly options: RecomputePacerOptions) {
    this.duty = options.duty ?? DEFAULT_DUTY;
    if (!(this.duty > 0 && this.duty <= 1)) throw new RangeError(`duty must be in (0, 1], got ${this.duty}`);
    this.routineIntervalMs = options.routineIntervalMs ?? DEFAULT_ROUTINE_INTERVAL_MS;
    this.costClock = options.costClock ?? (() => performance.now());
  }

  /** Recomputes run so far (for tests and metrics). */
  get count(): number {
    return this.runs;
  }

  /** Smoothed cost of one recompute, ms. */
  get recomputeCostMs(): number {
    return this.costMs;
  }

  request(urgency: RecomputeUrgency): void {
    if (this.pending !== 'decide') this.pending = urgency;
    if (this.running) return;
    this.drain();
  }

  dispose(): void {
    this.timer?.unsubscribe();
    this.timer = undefined;
    this.timerAt = Infinity;
    this.pending = undefined;
  }

  /** Runs what is due now; schedules one timer for what is due later. */
  private drain(): void {
    while (this.pending !== undefined) {
      const at = this.dueAt(this.pending);
      const now = this.options.scheduler.now();
      if (at > now) {
        this.arm(at, now);
        return;
      }
      this.runOnce();
    }
  }

  private dueAt(urgency: RecomputeUrgency): number {
    const cooldown = this.costMs * (1 / this.duty - 1);
    return this.lastEndAt + (urgency === 'routine' ? Math.max(cooldown, this.routineIntervalMs) : cooldown);
  }

  private arm(at: number, now: number): void {
    // A decide request can bring a routine timer forward; never push one back.
    if (this.timer && this.timerAt <= at) return;
    this.timer?.unsubscribe();
    this.timerAt = at;
    this.timer = this.options.scheduler.schedule(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      if (!this.running) this.drain();
    }, at - now);
  }

  private runOnce(): void {
    this.pending = undefined;
    this.timer?.unsubscribe();
    this.timer = undefined;
    this.timerAt = Infinity;
    this.running = true;
    const started = this.costClock();
    try {
      this.options.run();
    } finally {
      const cost = Math.max(0, this.costClock() - started);
      // Smoothed, but a sudden expensive run counts at once (the loop felt it already).
      this.costMs = Math.max(cost, this.runs === 0 ? cost : 0.7 * this.costMs + 0.3 * cost);
      this.runs += 1;
      this.lastEndAt = this.options.scheduler.now();
      this.running = false;
    }
  }
}
