// The site the reaction benchmark drives: the whole module (startApp, our MQTT API included) and the
// simulated EVerest from test/support/site-stack.ts, three 11 kW EVSEs on a 22 kW budget. Triggers,
// steady states and the split of each reaction into stages live here; react.bench.ts only runs rounds.
import { performance } from 'node:perf_hooks';
import type { EvseState } from '../../src/everest/payloads.js';
import type { ActionType } from '../../src/site/actions.js';
import { SITE_EVSES, arrive, siteStack, type SiteStack } from '../../test/support/site-stack.js';
import { sleep, waitFor } from '../../test/support/wait.js';
import { attachProbe, firstAfter, splitStages, type Probe, type Stages } from './react-probe.js';
import { COMMAND_FILTER, type Wire, type WireCommand } from './react-wire.js';

export const BUDGET_FULL_W = 22_000;
/** One 11 kW car's worth: the second car is an overrun that must be paused at once. */
export const BUDGET_LOW_W = 11_500;
export const RAISED_PRIORITY = 9;
/** The controller's default recompute throttle (src/site/controller.ts). */
export const RECOMPUTE_THROTTLE_MS = 10;

const [EVSE_1, EVSE_2, EVSE_3] = SITE_EVSES as [string, string, string];

/** The trigger kinds with a target, then the reset that brings the budget back, measured for information. */
export type TrialKind = 'priority' | 'budget' | 'session' | 'budget_raise';

export const TRIAL_LABELS: Record<TrialKind, string> = {
  priority: 'priority change (waiting car raised)',
  budget: 'budget drop',
  session: 'new session at a full site',
  budget_raise: 'budget restored (reset, back to back; info)',
};

interface Expected {
  moduleId: string;
  name: 'pause_charging' | 'resume_charging';
  type: ActionType;
}

export interface TrialResult {
  kind: TrialKind;
  /** Trigger to the first command on the wire, ms. */
  totalMs: number;
  /** The first command after the trigger was the one the trigger calls for. */
  expected: boolean;
  first: string;
  stages?: Stages;
}

type SiteState = Record<string, EvseState>;

// One round walks S0 -> LOW -> LOW3 -> RAISED -> LOW -> S0:
//   S0      two cars charging on 22 kW, third connector free
//   LOW     11.5 kW: evse_1 charging, evse_2 paused by us
//   LOW3    the same with a third car waiting, paused by us
//   RAISED  evse_3 at priority 9 charging, the other two paused by us
const S0: SiteState = { [EVSE_1]: 'Charging', [EVSE_2]: 'Charging', [EVSE_3]: 'Unplugged' };
const LOW: SiteState = { [EVSE_1]: 'Charging', [EVSE_2]: 'ChargingPausedEVSE', [EVSE_3]: 'Unplugged' };
const LOW3: SiteState = { [EVSE_1]: 'Charging', [EVSE_2]: 'ChargingPausedEVSE', [EVSE_3]: 'ChargingPausedEVSE' };
const RAISED: SiteState = { [EVSE_1]: 'ChargingPausedEVSE', [EVSE_2]: 'ChargingPausedEVSE', [EVSE_3]: 'Charging' };

/**
 * A car we resume only starts drawing at the simulator's next 250 ms tick, so a state reached by a resume
 * (S0 before the budget drop) is tied to the tick phase, and a short delay would sample a few phases of the
 * module's periodic work over and over: that trial gets a full tick period of random delay. The next two
 * target trials start from states reached by a pause, a few ms after the previous trigger, whose phase was
 * random already. The budget reset starts tick-bound, with the short delay only: it is for information.
 */
const FULL_JITTER: ReadonlySet<TrialKind> = new Set<TrialKind>(['budget']);
const INFO_KINDS: ReadonlySet<TrialKind> = new Set<TrialKind>(['budget_raise']);

export interface ReactSiteOptions {
  /**
   * Fixed pause before a target trigger once the steady state is reached. Longer than Linux's 40 ms delayed
   * ACK: the previous transition's last small packets may still be unacknowledged, and with Nagle's algorithm
   * on, the next packet on that connection waits for that ACK. The trial would inherit the previous one's state.
   */
  settleMs: number;
  /** The same before the reset, which is measured back to back, for information only. */
  infoSettleMs: number;
  /** Plus a uniform random share of this for the trials in FULL_JITTER: one full simulator tick period. */
  jitterMs: number;
  /** Plus a uniform random share of this for the others. */
  shortJitterMs: number;
  commandTimeoutMs: number;
  steadyTimeoutMs: number;
}

export class ReactSite {
  private constructor(
    readonly stack: SiteStack,
    readonly wire: Wire,
    readonly probe: Probe,
    private readonly options: ReactSiteOptions,
  ) {}

  static async open(url: string, wire: Wire, options: ReactSiteOptions): Promise<ReactSite> {
    // Windows at 0 so that hysteresis never holds a reaction back: what is left is the module's own latency.
    const stack = await siteStack(url, {
      scheduler: { min_on_time_s: 0, min_off_time_s: 0, overrun_tolerance_w: 500, reservation_timeout_s: 3 },
    });
    const probe = attachProbe(stack.app);
    const site = new ReactSite(stack, wire, probe, options);
    const base = stack.app.module.topics.base;
    if (!COMMAND_FILTER.startsWith(`${base}/`)) throw new Error(`the watcher's filter ${COMMAND_FILTER} misses the module's topics under ${base}`);
    // Arrival order decides among equal priorities: evse_2, the later arrival, is the one a budget drop pauses.
    arrive(stack.sim, EVSE_1);
    await waitFor(() => site.simState(EVSE_1) === 'Charging', { timeoutMs: 10_000, message: 'evse_1 charging' });
    arrive(stack.sim, EVSE_2);
    await site.waitSteady(S0, BUDGET_FULL_W, 'initial S0');
    return site;
  }

  get namespace(): string {
    return this.stack.config.namespace;
  }

  async close(): Promise<void> {
    this.probe.stop();
    await this.stack.close();
  }

  simState(id: string): EvseState {
    return this.stack.sim.evse(id).snapshot().state;
  }

  private describe(): string {
    const enforcer = this.stack.app.module.site.enforcer;
    return SITE_EVSES.map((id) => `${id} sim ${this.simState(id)} view ${this.stack.view(id).state}${enforcer.busy(id) ? ' busy' : ''}`).join(', ');
  }

  private isSteady(expect: SiteState, budgetW: number): boolean {
    const { site } = this.stack.app.module;
    if (site.maxPowerW !== budgetW) return false;
    for (const id of SITE_EVSES) {
      if (this.simState(id) !== expect[id] || this.stack.view(id).state !== expect[id] || site.enforcer.busy(id)) return false;
    }
    return true;
  }

  async waitSteady(expect: SiteState, budgetW: number, what: string, extra: () => boolean = () => true): Promise<void> {
    await waitFor(() => this.isSteady(expect, budgetW) && extra(), {
      timeoutMs: this.options.steadyTimeoutMs,
      intervalMs: 2,
      message: () => `${what} not reached: ${this.describe()}, budget ${this.stack.app.module.site.maxPowerW}`,
    });
  }

  private priorityOf(id: string): number | undefined {
    return this.stack.app.service.priority(id, 1)?.priority;
  }

  private async settle(kind: TrialKind): Promise<void> {
    const jitter = FULL_JITTER.has(kind) ? this.options.jitterMs : this.options.shortJitterMs;
    await sleep((INFO_KINDS.has(kind) ? this.options.infoSettleMs : this.options.settleMs) + Math.random() * jitter);
  }

  private publishPriority(priority: number): number {
    return this.wire.publish(`${this.namespace}/request/priority/set`, JSON.stringify({ by: 'module', module_id: EVSE_3, connector_id: 1, priority }));
  }

  private publishBudget(maxPowerW: number): number {
    return this.wire.publish(`${this.namespace}/request/site/set`, JSON.stringify({ max_power_w: maxPowerW }));
  }

  /** S0 -> LOW: the later of the two charging cars must be paused. */
  budgetDrop(): Promise<TrialResult> {
    return this.trial('budget', () => this.publishBudget(BUDGET_LOW_W), { moduleId: EVSE_2, name: 'pause_charging', type: 'pause' }, () =>
      this.waitSteady(LOW, BUDGET_LOW_W, 'budget low'),
    );
  }

  /** LOW -> LOW3: a third car at a full site is paused as soon as it starts drawing. */
  newSession(): Promise<TrialResult> {
    return this.trial(
      'session',
      () => {
        const t0 = performance.now();
        arrive(this.stack.sim, EVSE_3);
        return t0;
      },
      { moduleId: EVSE_3, name: 'pause_charging', type: 'pause' },
      () => this.waitSteady(LOW3, BUDGET_LOW_W, 'third car held'),
    );
  }

  /** LOW3 -> RAISED: the waiting car now outranks evse_1, which is paused first (break before make). */
  priorityRaise(): Promise<TrialResult> {
    return this.trial('priority', () => this.publishPriority(RAISED_PRIORITY), { moduleId: EVSE_1, name: 'pause_charging', type: 'pause' }, () =>
      this.waitSteady(RAISED, BUDGET_LOW_W, 'priority swap', () => this.priorityOf(EVSE_3) === RAISED_PRIORITY),
    );
  }

  /**
   * RAISED -> LOW: the raised car leaves, evse_1 gets its place back. Its session-scoped priority is cleared
   * at SessionFinished (a store write); wait for that too.
   */
  async unplugThird(): Promise<void> {
    this.stack.sim.apply({ module_id: EVSE_3, action: 'unplug' });
    await this.waitSteady(LOW, BUDGET_LOW_W, 'raised car gone', () => this.priorityOf(EVSE_3) === undefined);
  }

  /** LOW -> S0. */
  budgetRaise(): Promise<TrialResult> {
    return this.trial('budget_raise', () => this.publishBudget(BUDGET_FULL_W), { moduleId: EVSE_2, name: 'resume_charging', type: 'resume' }, () =>
      this.waitSteady(S0, BUDGET_FULL_W, 'budget restored'),
    );
  }

  private async trial(kind: TrialKind, trigger: () => number, expected: Expected, after: () => Promise<void>): Promise<TrialResult> {
    await this.settle(kind);
    const from = this.wire.commands.length;
    const t0 = trigger();
    const cmd = await this.wire.nextCommand(from, this.options.commandTimeoutMs);
    await after();
    const isExpected = cmd.moduleId === expected.moduleId && cmd.name === expected.name;
    const result: TrialResult = { kind, totalMs: cmd.at - t0, expected: isExpected, first: `${cmd.name} ${cmd.moduleId}` };
    const stages = isExpected ? this.stages(kind, t0, cmd, expected) : undefined;
    if (stages) result.stages = stages;
    return result;
  }

  private stages(kind: TrialKind, t0: number, cmd: WireCommand, expected: Expected): Stages | undefined {
    const p = this.probe;
    let inAt: number | undefined;
    let inputAt: number | undefined;
    if (kind === 'session') {
      inAt = firstAfter(p.e2m, t0, (m) => m.topic.includes(`/${EVSE_3}/e2m/`))?.at;
      inputAt = firstAfter(p.views, t0, (v) => v.moduleId === EVSE_3 && v.state === 'Charging')?.at;
    } else {
      const topic = `${this.namespace}/request/${kind.startsWith('priority') ? 'priority/set' : 'site/set'}`;
      inAt = firstAfter(p.requests, t0, (m) => m.topic === topic)?.at;
      inputAt = firstAfter(kind.startsWith('priority') ? p.storeChanges : p.budgetEvents, t0)?.at;
    }
    const sentAt = firstAfter(p.sent, t0, (s) => s.moduleId === expected.moduleId && s.type === expected.type)?.at;
    if (inAt === undefined || inputAt === undefined || sentAt === undefined) return undefined;
    return splitStages(p, t0, inAt, inputAt, sentAt, cmd.at, RECOMPUTE_THROTTLE_MS);
  }
}
