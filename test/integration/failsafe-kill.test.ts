// The fail-safe when evse-priority dies: the real process under current control, killed with SIGKILL.
// EVerest never expires an external limit; the second schedule_import entry of the last message the
// process sent is what takes over, at its timestamp, in the simulated EnergyNode.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExternalLimits } from '../../src/everest/external-limits.js';
import { limitsModulesOf } from '../../src/sim/external-limits.js';
import { startSimulator, type SimEvent, type Simulator } from '../../src/sim/simulator.js';
import { startBroker, type TestBroker } from '../support/broker.js';
import { quietLogger, rawClient, sharedContract } from '../support/everest-stack.js';
import { collect, waitFor } from '../support/wait.js';

const EVSES = [
  { module_id: 'evse_1', limits_module_id: 'evse_1_limits' },
  { module_id: 'evse_2', limits_module_id: 'evse_2_limits' },
];
const FAILSAFE_S = 4;
const FAILSAFE_A = 8;

describe('evse-priority killed while it controls current', () => {
  let broker: TestBroker;
  let dir: string;
  let sim: Simulator;
  let child: ChildProcess | undefined;
  const received: Array<{ at: number; limitsModuleId: string; value: ExternalLimits }> = [];

  beforeAll(async () => {
    broker = await startBroker();
    dir = mkdtempSync(join(tmpdir(), 'evse-priority-failsafe-'));
    sim = await startSimulator({
      url: broker.url,
      logger: quietLogger(),
      contract: await sharedContract(),
      moduleIds: EVSES.map((e) => e.module_id),
      limitsModules: limitsModulesOf(EVSES),
      evse: { hwMaxCurrentA: 16 },
      heartbeatIntervalMs: 250,
      powermeterIntervalMs: 200,
    });
    sim.events$.subscribe((e: SimEvent) => {
      if (e.kind === 'received' && e.name === 'set_external_limits') received.push({ at: Date.now(), limitsModuleId: e.moduleId, value: e.value as ExternalLimits });
    });
  });
  afterAll(async () => {
    child?.kill('SIGKILL');
    await sim?.stop();
    await broker?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`falls back to limits.failsafe_current_a at the fail-safe entry's time, within failsafe_s (${FAILSAFE_S} s) of the kill`, async () => {
    const configFile = join(dir, 'site.yaml');
    writeFileSync(
      configFile,
      [
        'instance: failsafe',
        `mqtt: { url: "${broker.url}" }`,
        `evses: [${EVSES.map((e) => `{ module_id: ${e.module_id}, limits_module_id: ${e.limits_module_id}, max_current_a: 16 }`).join(', ')}]`,
        'site: { max_power_w: 9000 }',
        `limits: { failsafe_s: ${FAILSAFE_S}, refresh_s: 1, failsafe_current_a: ${FAILSAFE_A} }`,
        `store: { dir: "${join(dir, 'data')}" }`,
        'http: { enabled: false }',
        'log: { level: warn }',
      ].join('\n'),
    );
    child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'run', '--config', configFile], { stdio: ['ignore', 'ignore', 'inherit'] });
    // Starting a TypeScript process takes seconds, many more on a loaded machine: wait for it to be
    // online on its own status topic before judging anything.
    const peer = await rawClient(broker.url);
    try {
      const status = await collect(peer, 'evse_priority/failsafe/status');
      await waitFor(() => status.messages.some((m) => m.payload.includes('"online"')), { timeoutMs: 120_000, message: 'module online' });
      await status.stop();
    } finally {
      await peer.endAsync();
    }
    for (const { module_id } of EVSES) {
      sim.apply({ module_id, action: 'plug_in', max_power_w: 11_000 });
      sim.apply({ module_id, action: 'authorize' });
    }
    const limitOf = (id: string) => sim.limitsNode(`${id}_limits`).limitAt(Date.now());
    // Under control: both EVSEs carry a limit of ours, whatever the allocation (a car seen first may
    // hold the whole 9 kW while the other waits out its window), and not the fail-safe current.
    await waitFor(() => EVSES.every((e) => limitOf(e.module_id).source === 'evse_priority' && limitOf(e.module_id).currentA !== FAILSAFE_A), {
      timeoutMs: 20_000,
      message: () => `not under current control: ${JSON.stringify(EVSES.map((e) => limitOf(e.module_id)))}`,
    });
    // Refreshes keep the fail-safe ahead while the process lives.
    await waitFor(() => received.filter((r) => r.limitsModuleId === 'evse_1_limits').length >= 3, { timeoutMs: 10_000 });

    const controlled = new Map(EVSES.map((e) => [e.limits_module_id, limitOf(e.module_id).currentA]));
    child.kill('SIGKILL');
    const killedAt = Date.now();
    // The cars draw the fail-safe current from the energy manager's next run on.
    await waitFor(() => EVSES.every((e) => sim.evse(e.module_id).snapshot().powerW === FAILSAFE_A * 3 * 230), { timeoutMs: (FAILSAFE_S + 3) * 1000 });
    const fellBackAt = Date.now();

    for (const { limits_module_id } of EVSES) {
      const last = received.filter((r) => r.limitsModuleId === limits_module_id).at(-1);
      const [now, failsafe] = last?.value.schedule_import ?? [];
      expect(now?.limits_to_root.ac_max_current_A).toEqual({ value: controlled.get(limits_module_id), source: 'evse_priority' });
      expect(failsafe?.limits_to_root.ac_max_current_A).toEqual({ value: FAILSAFE_A, source: 'evse_priority' });
      // Not before the entry's own time: the fail-safe is the schedule's, nothing expired.
      expect(fellBackAt).toBeGreaterThanOrEqual(Date.parse(failsafe?.timestamp ?? ''));
      expect(sim.limitsNode(limits_module_id).limitAt(fellBackAt + 3_600_000)).toEqual({ currentA: FAILSAFE_A, source: 'evse_priority' });
    }
    expect(fellBackAt - killedAt).toBeLessThanOrEqual(FAILSAFE_S * 1000 + 1000);
  }, 180_000);
});
