// Read-only taps on the running module, so a reaction can be split into stages without touching src/.
// Each tap is one more subscriber on a stream the module already has; none of them changes what the
// module does.
import { performance } from 'node:perf_hooks';
import type { Subscription } from 'rxjs';
import type { RunningApp } from '../../src/app.js';
import type { ActionType } from '../../src/site/actions.js';
import type { EvseState } from '../../src/everest/payloads.js';

export interface Stamp {
  at: number;
}
export interface TopicStamp extends Stamp {
  topic: string;
}
export interface ViewStamp extends Stamp {
  moduleId: string;
  state: EvseState;
}
export interface ActionStamp extends Stamp {
  moduleId: string;
  type: ActionType;
}

/**
 * Where one reaction spent its time, in milliseconds. The stages add up to the total:
 * - hopIn: trigger until the module's MQTT client has the message (broker hop in; for a new session also
 *   the simulator's own publish);
 * - input: until the input is in the module's state (the API request parsed, validated and, for a
 *   priority, written to the store with fsync; for a new session, until the view shows Charging);
 * - decide: until the enforcer sends the command (waiting for the recompute throttle, schedule(), enforcer);
 * - hopOut: until the watcher sees it (broker hop out, plus whatever held the shared event loop).
 */
export interface Stages {
  hopIn: number;
  input: number;
  decide: number;
  hopOut: number;
  /** A recompute ended less than a throttle window before the input was ready: the trigger had to wait for the trailing edge. */
  windowOpen: boolean;
}

export interface Probe {
  /** Messages on our request topics, as the module's MQTT client delivered them. */
  readonly requests: TopicStamp[];
  /** Everything an EVSE published (e2m), as the module's MQTT client delivered it. */
  readonly e2m: TopicStamp[];
  readonly storeChanges: Stamp[];
  readonly budgetEvents: Stamp[];
  /** View state changes only, not every powermeter sample. */
  readonly views: ViewStamp[];
  /** End of every recompute (leading or trailing edge of the throttle, or a review timer). */
  readonly recomputes: Stamp[];
  /** First attempt of each command, stamped as the enforcer hands it to the MQTT client. */
  readonly sent: ActionStamp[];
  stop(): void;
}

export function attachProbe(app: RunningApp): Probe {
  const { transport, store, site } = app.module;
  const requestPrefix = `${app.module.config.namespace}/request/`;
  const probe: Omit<Probe, 'stop'> = { requests: [], e2m: [], storeChanges: [], budgetEvents: [], views: [], recomputes: [], sent: [] };
  const lastState = new Map<string, EvseState>();
  // Ahead of the module's own listeners: a listener added through messages$ would run after the module has
  // already reacted (a leading-edge recompute sends the command synchronously), and stamp too late.
  const client = transport['client'];
  const onMessage = (topic: string): void => {
    const at = performance.now();
    if (topic.startsWith(requestPrefix)) probe.requests.push({ at, topic });
    else if (topic.includes('/e2m/')) probe.e2m.push({ at, topic });
  };
  client.prependListener('message', onMessage);
  const subs: Subscription[] = [
    store.changes$.subscribe(() => probe.storeChanges.push({ at: performance.now() })),
    site.events$.subscribe((e) => {
      if (e.type === 'budget') probe.budgetEvents.push({ at: performance.now() });
    }),
    site.views$.subscribe((v) => {
      if (lastState.get(v.moduleId) === v.state) return;
      lastState.set(v.moduleId, v.state);
      probe.views.push({ at: performance.now(), moduleId: v.moduleId, state: v.state });
    }),
    site.recomputed$.subscribe(() => probe.recomputes.push({ at: performance.now() })),
    site.enforcer.actions$.subscribe((a) => {
      if (a.status === 'in_flight' && a.attempts === 1) probe.sent.push({ at: performance.now(), moduleId: a.module_id, type: a.type });
    }),
  ];
  return {
    ...probe,
    stop() {
      client.off('message', onMessage);
      for (const s of subs) s.unsubscribe();
    },
  };
}

/** The first stamp at or after `t` that matches; stamps are in time order. */
export function firstAfter<T extends Stamp>(xs: readonly T[], t: number, match: (x: T) => boolean = () => true): T | undefined {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (xs[mid]!.at < t) lo = mid + 1;
    else hi = mid;
  }
  for (let i = lo; i < xs.length; i++) if (match(xs[i]!)) return xs[i];
  return undefined;
}

/**
 * Splits one reaction. `input` is the stamp of the module's state change. Taps that sit on the same
 * Subject as the controller run after it, so when the controller reacted at once (leading edge) the
 * command is already stamped before the input is: the input is then taken as the command's stamp.
 */
export function splitStages(p: Probe, t0: number, inAt: number, inputAt: number, sentAt: number, wireAt: number, throttleMs: number): Stages {
  const ready = Math.min(inputAt, sentAt);
  let windowOpen = false;
  for (let i = p.recomputes.length - 1; i >= 0; i--) {
    const r = p.recomputes[i]!.at;
    if (r >= ready) continue;
    windowOpen = ready - r < throttleMs;
    break;
  }
  return { hopIn: inAt - t0, input: ready - inAt, decide: sentAt - ready, hopOut: wireAt - sentAt, windowOpen };
}
