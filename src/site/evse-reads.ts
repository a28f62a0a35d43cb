// When to (re-)read an EVSE (get_evse), from its heartbeat status. One plain state object per EVSE,
// fed from the heartbeat monitor's one shared stream: at 1000 EVSEs an rxjs chain each (map,
// distinct, share, filters, throttle, merge, switchMap: a dozen subscribers per EVSE) cost megabytes.
import type { SchedulerLike, Subscription } from 'rxjs';
import type { HeartbeatStatus } from '../everest/liveness.js';

/**
 * get_evse at most this often per EVSE: heartbeat counters that keep resetting (a flapping or hostile
 * publisher on e2m/heartbeat) must not turn into a stream of requests to the charger. The last
 * trigger of a window is still served at its end.
 */
export const GET_EVSE_MIN_INTERVAL_MS = 10_000;

type Reachability = 'online' | 'restarted' | 'unreachable';

interface ReadState {
  /** The last reachability acted on (a restart's following 'online' is not acted on). */
  last: Reachability | undefined;
  /** The throttle window after a read; undefined when none is open. */
  window: Subscription | undefined;
  /** A trigger came during the window: read when it ends. */
  pending: boolean;
  inFlight: Subscription | undefined;
}

/**
 * Reads an EVSE on becoming reachable and after an EVerest restart, at most once per
 * GET_EVSE_MIN_INTERVAL_MS (the first trigger at once, the last one of a window at its end); turning
 * unreachable cancels a read in progress at once. The same rule as rxjs `distinctUntilChanged` (on the
 * last value acted on) + `throttleTime(leading, trailing)` + `switchMap`, which the site used before.
 */
export class EvseReads {
  private readonly states = new Map<string, ReadState>();

  /** `read` starts a get_evse and returns its subscription (unsubscribing cancels it). */
  constructor(
    private readonly read: (moduleId: string) => Subscription,
    private readonly scheduler: SchedulerLike,
  ) {}

  /** Each heartbeat status of an EVSE, repeats included. */
  status(moduleId: string, status: HeartbeatStatus): void {
    let state = this.states.get(moduleId);
    if (!state) {
      state = { last: undefined, window: undefined, pending: false, inFlight: undefined };
      this.states.set(moduleId, state);
    }
    const reach: Reachability = status === 'online' || status === 'restarted' ? status : 'unreachable';
    const previous = state.last;
    // After a restart the EVSE goes on beating ('online'): the same EVerest, nothing new to read.
    if (previous !== undefined && (previous === reach || (previous === 'restarted' && reach === 'online'))) return;
    state.last = reach;
    if (reach === 'unreachable') {
      state.inFlight?.unsubscribe();
      state.inFlight = undefined;
    } else if (state.window) state.pending = true;
    else this.readNow(moduleId, state);
  }

  /** Cancels every read in progress and every window. */
  stop(): void {
    for (const state of this.states.values()) {
      state.inFlight?.unsubscribe();
      state.window?.unsubscribe();
    }
    this.states.clear();
  }

  private readNow(moduleId: string, state: ReadState): void {
    state.inFlight?.unsubscribe();
    const read = this.read(moduleId);
    // A finished read is let go at once (as switchMap does), not held until the next status.
    state.inFlight = read.closed ? undefined : read;
    read.add(() => {
      if (state.inFlight === read) state.inFlight = undefined;
    });
    state.window = this.scheduler.schedule(() => {
      state.window = undefined;
      if (!state.pending) return;
      state.pending = false;
      this.readNow(moduleId, state);
    }, GET_EVSE_MIN_INTERVAL_MS);
  }
}
