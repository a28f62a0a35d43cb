// The site the reaction benchmark drives: the whole module (startApp, our MQTT API included) and the
// simulated EVerest from test/helpers/site-stack.ts, three 11 kW EVSEs on a 22 kW budget. Triggers,
// steady states and the split of each reaction into stages live here; react.bench.ts only runs rounds.
import { performance } from 'node:perf_hooks';
import type { EvseState } from '../../src/everest/payloads.js';
import type { ActionType } from '../../src/site/actions.js';
import { SITE_EVSES, arrive, siteStack, type SiteStack } from '../../test/helpers/site-stack.js';
import { sleep, waitFor } from '../../test/helpers/wait.js';
import { attachProbe, firstAfter, splitStages, type Probe, type Stages } from './react-probe.js';
import { COMMAND_FILTER, type Wire, type WireCommand } from './react-wire.js';

export const BUDGET_FULL_W = 22_000;
/** One 11 kW car's worth: the second car is an overrun that must be paused at once. */
export const BUDGET_LOW_W = 11_500;
export const RAISED_PRIORITY = 9;
/** The controller's default recompute throttle (src/site/controller.ts). */
export const RECOMPUTE_THROTTLE_MS = 10;

const [EVSE_1, EVSE_2, EVSE_3] = SITE_EVSES as [string, string, string];

/** The trigger kinds with a target, then the resets that bring the site back, measured for information. */
export type TrialKind = 'priority' | 'budget' | 'session' | 'priority_lower' | 'budget_raise';

export const TRIAL_LABELS: Record<TrialKind, string> = {
  priority: 'priority change (waiting car raised)',
  budget: 'budget drop',
  session: 'new session at a full site',
  priority_lower: 'priority lowered (reset, info)',
  budget_raise: 'budget restored (reset, info)',
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

/** Steady states: S0 two cars charging, third connector free; S1 the third car waits, paused by us. */
const S0: SiteState = { [EVSE_1]: 'Charging', [EVSE_2]: 'Charging', [EVSE_3]: 'Unplugged' };
const S1: SiteState = { [EVSE_1]: 'Charging', [EVSE_2]: 'Charging', [EVSE_3]: 'ChargingPausedEVSE' };
const BUDGET_LOW: SiteState = { [EVSE_1]: 'Charging', [EVSE_2]: 'ChargingPausedEVSE', [EVSE_3]: 'Unplugged' };
const RAISED: SiteState = { [EVSE_1]: 'Charging', [EVSE_2]: 'ChargingPausedEVSE', [EVSE_3]: 'Charging' };

export interface ReactSiteOptions {
  /** Fixed pause before each trigger, after the steady state is reached. */
  settleMs: number;
  /** Plus a uniform random share of this, so triggers fall at every phase of the simulator's 250 ms ticks. */
  jitterMs: number;
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

  private async settle(): Promise<void> {
    await sleep(this.options.settleMs + Math.random() * this.options.jitterMs);
  }

  private publishPriority(priority: number): number {
    return this.wire.publish(`${this.namespace}/request/priority/set`, JSON.stringify({ by: 'module', module_id: EVSE_3, connector_id: 1, priority }));
  }

  private publishBudget(maxPowerW: number): number {
    return this.wire.publish(`${this.namespace}/request/site/set`, JSON.stringify({ max_power_w: maxPowerW }));
  }

  /** S0 -> BUDGET_LOW: the later of the two charging cars must be paused. */
  budgetDrop(): Promise<TrialResult> {
    return this.trial('budget', () => this.publishBudget(BUDGET_LOW_W), { moduleId: EVSE_2, name: 'pause_charging', type: 'pause' }, async () =>
      this.waitSteady(BUDGET_LOW, BUDGET_LOW_W, 'budget low'),
    );
  }

  /** BUDGET_LOW -> S0. */
  budgetRaise(): Promise<TrialResult> {
    return this.trial('budget_raise', () => this.publishBudget(BUDGET_FULL_W), { moduleId: EVSE_2, name: 'resume_charging', type: 'resume' }, async () =>
      this.waitSteady(S0, BUDGET_FULL_W, 'budget restored'),
    );
  }

  /** S0 -> S1: a third car at a full site is paused as soon as it starts drawing. */
  newSession(): Promise<TrialResult> {
    return this.trial(
      'session',
      () => {
        const t0 = performance.now();
        arrive(this.stack.sim, EVSE_3);
        return t0;
      },
      { moduleId: EVSE_3, name: 'pause_charging', type: 'pause' },
      async () => this.waitSteady(S1, BUDGET_FULL_W, 'third car held'),
    );
  }

  /** S1 -> RAISED: the waiting car now outranks evse_2, which is paused first (break before make). */
  priorityRaise(): Promise<TrialResult> {
    return this.trial('priority', () => this.publishPriority(RAISED_PRIORITY), { moduleId: EVSE_2, name: 'pause_charging', type: 'pause' }, async () =>
      this.waitSteady(RAISED, BUDGET_FULL_W, 'priority swap', () => this.priorityOf(EVSE_3) === RAISED_PRIORITY),
    );
  }

  /** RAISED -> S1: equal priorities again, so the earlier arrival gets its place back. */
  priorityLower(): Promise<TrialResult> {
    return this.trial('priority_lower', () => this.publishPriority(0), { moduleId: EVSE_3, name: 'pause_charging', type: 'pause' }, async () =>
      this.waitSteady(S1, BUDGET_FULL_W, 'priority restored', () => this.priorityOf(EVSE_3) === 0),
    );
  }

  /** S1 -> S0. The session-scoped priority is cleared at SessionFinished (a store write); wait for it too. */
  async unplugThird(): Promise<void> {
    this.stack.sim.apply({ module_id: EVSE_3, action: 'unplug' });
    await this.waitSteady(S0, BUDGET_FULL_W, 'third car gone', () => this.priorityOf(EVSE_3) === undefined);
  }

  private async trial(kind: TrialKind, trigger: () => number, expected: Expected, after: () => Promise<void>): Promise<TrialResult> {
    await this.settle();
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
