// Scheduler figures: the cost of one decision round for 1000 connectors (against a plain sort of the
// same sessions, measured in the same run), and a simulated 24 h site against a first-come-first-served
// baseline. Run: npx tsx bench/site.bench.ts [--seed=N]
import { pathToFileURL } from 'node:url';
import type { EvseState } from '../src/everest/payloads.js';
import { connectorKey } from '../src/priorities/model.js';
import type { SessionSnapshot, SiteSnapshot } from '../src/site/model.js';
import { SIM_SCHEDULER_CONFIG } from '../test/support/builders/snapshot.js';
import { allocate } from '../src/site/allocator.js';
import { schedule } from '../src/site/scheduler.js';
import { runSharingSim, type SharingSimResult } from '../test/support/sharing-sim.js';
import { mean, measure, p50, p99, printTable, ratio } from './lib/stats.js';
import { DEFAULT_SITE_SIM, mulberry32, runSiteSim, type SiteSimResult } from '../test/support/site-sim.js';

const NOW = 1_750_000_000_000;

/** A busy site: mostly charging or paused by us, some just arrived, a few offline or paused by the car. */
export function benchSite(sessions: number, seed: number, limits = false): SiteSnapshot {
  const rnd = mulberry32(seed);
  const list: SessionSnapshot[] = [];
  let demand = 0;
  for (let i = 0; i < sessions; i++) {
    const x = rnd();
    const evseState: EvseState = x < 0.55 ? 'Charging' : x < 0.8 ? 'ChargingPausedEVSE' : x < 0.9 ? 'Preparing' : x < 0.95 ? 'ChargingPausedEV' : 'Unplugged';
    const currentA = [16, 32, 24][Math.floor(rnd() * 3)]!;
    const phases = rnd() < 0.3 ? 1 : 3;
    const moduleId = `evse_${Math.floor(i / 2)}`;
    const s: SessionSnapshot = {
      key: connectorKey(moduleId, (i % 2) + 1),
      moduleId,
      connectorId: (i % 2) + 1,
      evseState,
      pausedByUs: evseState === 'ChargingPausedEVSE',
      arrivalMs: NOW - Math.floor(rnd() * 8 * 3_600_000),
      priority: Math.floor(rnd() * 19) - 9,
      limitCurrentA: currentA,
      phases,
      hwMaxCurrentA: 32,
      online: rnd() > 0.02,
      commandInFlight: rnd() < 0.05,
    };
    const nominal = currentA * phases * 230;
    if (evseState === 'Charging') {
      s.measuredPowerW = Math.round(nominal * (0.6 + 0.4 * rnd()));
      s.lastOnMs = NOW - Math.floor(rnd() * 1_200_000);
    }
    if (evseState === 'ChargingPausedEVSE') s.lastOffMs = NOW - Math.floor(rnd() * 1_200_000);
    if (rnd() < 0.05) {
      s.grantedAtMs = NOW - Math.floor(rnd() * 90_000);
      s.grantedW = nominal;
    }
    // Under current control: every EVSE has a limits module; the limit in force is what we last sent.
    if (limits) s.current = { minA: 6, evseMaxA: 32, limitA: s.pausedByUs ? 0 : currentA, limitRaisedAtMs: NOW - Math.floor(rnd() * 600_000) };
    demand += nominal;
    list.push(s);
  }
  return { maxPowerW: Math.round(demand * 0.4), nominalVoltageV: 230, sessions: list };
}

export interface MicroBenchRow {
  sessions: number;
  runs: number;
  scheduleP50Ms: number;
  scheduleP99Ms: number;
  scheduleMeanMs: number;
  sortP50Ms: number;
  sortP99Ms: number;
  ratioP50: string;
}

/**
 * Times `schedule()` (on/off site), or `allocate()` with every EVSE under current control, against a
 * baseline of sorting the same sessions by priority.
 */
export function runSchedulerMicroBench(sessions = 1000, runs = 2000, seed = 42, limits = false): MicroBenchRow {
  const site = benchSite(sessions, seed, limits);
  const config = SIM_SCHEDULER_CONFIG;
  const plan = limits ? allocate : schedule;
  // Interleave the two so drift (GC, CPU frequency) hits both alike.
  const sched: number[] = [];
  const sort: number[] = [];
  for (let round = 0; round < 10; round++) {
    sched.push(...measure(() => plan(site, config, NOW), { runs: runs / 10, warmup: round === 0 ? 200 : 20 }));
    sort.push(...measure(() => [...site.sessions].sort((a, b) => b.priority - a.priority), { runs: runs / 10, warmup: round === 0 ? 200 : 20 }));
  }
  return {
    sessions,
    runs,
    scheduleP50Ms: p50(sched),
    scheduleP99Ms: p99(sched),
    scheduleMeanMs: mean(sched),
    sortP50Ms: p50(sort),
    sortP99Ms: p99(sort),
    ratioP50: ratio(p50(sched), p50(sort)),
  };
}

function simRow(label: string, r: SiteSimResult): Record<string, string | number> {
  return {
    policy: label,
    sessions: r.sessions,
    'toggles p50/p90/max': `${r.togglesMedian}/${fmtNum(r.togglesP90)}/${r.togglesMax}`,
    'interruptions p50/max': `${r.interruptionsMedian}/${r.interruptionsMax}`,
    's > budget': r.secondsAboveBudget,
    's > budget+tol': r.secondsAboveTolerance,
    's > budget+tol beyond 5 s': r.overrunSecondsBeyondWindow,
    'max over W': r.maxOvershootW,
    's inversion': r.inversionSeconds,
    's inversion beyond 5 s': r.inversionSecondsBeyondHysteresis,
    'served p>=5': pct(r.servedHigh),
    'served mid': pct(r.servedMid),
    'served p<=-5': pct(r.servedLow),
    'wait p50 p>=5': `${Math.round(r.waitHighS)} s`,
    'wait p50 p<=-5': `${Math.round(r.waitLowS)} s`,
    kWh: Math.round(r.energyDeliveredKWh),
  };
}

function sharingRow(label: string, r: SharingSimResult): Record<string, string | number> {
  return {
    policy: label,
    sessions: r.sessions,
    'kWh / deliverable': `${Math.round(r.energyDeliveredKWh)} / ${Math.round(r.deliverableKWh)} = ${r.deliveredShare.toFixed(3)}`,
    'toggles p50/p90/max': `${r.togglesMedian}/${fmtNum(r.togglesP90)}/${r.togglesMax}`,
    's > budget+tol': r.secondsAboveTolerance,
    's > budget+tol beyond 5 s': r.overrunSecondsBeyondWindow,
    's inversion': r.inversionSeconds,
    's inversion beyond 5 s': r.inversionSecondsBeyondHysteresis,
    'served p>=5': pct(r.servedHigh),
    'served p<=-5': pct(r.servedLow),
    'limit msgs / session-h': r.messagesPerSessionHour.toFixed(1),
  };
}

function pct(x: number): string {
  return Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : 'n/a';
}

function fmtNum(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(1);
}

function main(): void {
  const arg = process.argv.find((a) => a.startsWith('--seed='));
  const seed = arg !== undefined ? Number(arg.slice('--seed='.length)) : Number(process.env.SEED ?? 42);
  process.stdout.write(`site bench, seed ${seed}, node ${process.version}\n`);

  const micro = [10, 100, 1000].map((n) => runSchedulerMicroBench(n, n === 1000 ? 2000 : 4000, seed));
  printTable('schedule() vs baseline (plain sort of the same sessions by priority), ms per call', micro.map((m) => ({ ...m })));
  const big = micro[micro.length - 1]!;
  process.stdout.write(
    `target: 1000 sessions <= 2 ms -> p50 ${big.scheduleP50Ms.toFixed(3)} ms ${big.scheduleP50Ms <= 2 ? 'met' : 'MISSED'}, ` +
      `p99 ${big.scheduleP99Ms.toFixed(3)} ms ${big.scheduleP99Ms <= 2 ? 'met' : 'MISSED'}; ${big.ratioP50} the time of the sort\n`,
  );

  const alloc = runSchedulerMicroBench(1000, 2000, seed, true);
  printTable('allocate() with every EVSE under current control vs the same baseline, ms per call', [{ ...alloc }]);
  process.stdout.write(
    `target: allocate() for 1000 sessions p99 <= 2 ms -> p99 ${alloc.scheduleP99Ms.toFixed(3)} ms ${alloc.scheduleP99Ms <= 2 ? 'met' : 'MISSED'} (p50 ${alloc.scheduleP50Ms.toFixed(3)} ms)\n`,
  );

  const s = DEFAULT_SITE_SIM;
  const day = { seed, durationS: 24 * 3600 };
  const t0 = Date.now();
  const ours = runSiteSim({ ...day, policy: 'priority', policyTickS: 1 });
  const fcfs1 = runSiteSim({ ...day, policy: 'fcfs', policyTickS: 1 });
  const fcfs30 = runSiteSim({ ...day, policy: 'fcfs', policyTickS: 30 });
  process.stdout.write(
    `\nsimulated site: ${s.connectors} connectors, cars ${s.cars.map((c) => ((c.currentA * c.phases * s.voltageV) / 1000).toFixed(1)).join('/')} kW, ` +
      `budget ${s.budgetChoicesW.map((w) => w / 1000).join('/')} kW changing every ~${s.budgetChangeMeanS / 3600} h, dwell ${s.dwellS[0] / 60} min-${s.dwellS[1] / 3600} h, ` +
      `${s.priorityChangeChance * 100}% of sessions change priority, cars pause themselves ${s.evPausesPerHour}/h, ` +
      `pause/resume take effect after ${s.pauseDelayS}/${s.resumeDelayS} s, ramp ${s.rampS} s, meter noise ${s.meterNoise * 100}%, ` +
      `min on/off ${s.scheduler.minOnTimeS}/${s.scheduler.minOffTimeS} s, tolerance ${s.scheduler.overrunToleranceW} W\n`,
  );
  printTable(`24 h simulated site (fake clock, 1 s steps, seed ${seed})`, [
    simRow('priority (ours, every update)', ours),
    simRow('fcfs, 1 s loop', fcfs1),
    simRow('fcfs, 30 s loop (evcc-like)', fcfs30),
  ]);
  const reasons = Object.entries(ours.pausesByReason)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  process.stdout.write(
    [
      `pause commands by reason (ours): ${reasons}`,
      `targets (ours): toggles per session p50 <= 3 -> ${ours.togglesMedian} ${ours.togglesMedian <= 3 ? 'met' : 'MISSED'}, ` +
        `max <= 3 -> ${ours.togglesMax} ${ours.togglesMax <= 3 ? 'met' : 'MISSED'}; ` +
        `s above budget+tolerance beyond 5 s = 0 -> ${ours.overrunSecondsBeyondWindow} ${ours.overrunSecondsBeyondWindow === 0 ? 'met' : 'MISSED'}; ` +
        `inversion s beyond hysteresis = 0 -> ${ours.inversionSecondsBeyondHysteresis} ${ours.inversionSecondsBeyondHysteresis === 0 ? 'met' : 'MISSED'}`,
      `scheduler in the sim: ${ours.schedulerCalls} calls, mean ${(ours.schedulerMsMean * 1000).toFixed(1)} us`,
    ].join('\n') + '\n',
  );

  // How much the hysteresis windows buy: same day, different windows.
  const windows = [120, 300, 900].map((win) => {
    const r = runSiteSim({ ...day, scheduler: { ...SIM_SCHEDULER_CONFIG, minOnTimeS: win, minOffTimeS: win } });
    return {
      'min on/off': `${win} s`,
      'toggles p50/p90/max': `${r.togglesMedian}/${fmtNum(r.togglesP90)}/${r.togglesMax}`,
      'interruptions p50/max': `${r.interruptionsMedian}/${r.interruptionsMax}`,
      's inversion beyond 5 s': r.inversionSecondsBeyondHysteresis,
      'wait p50 p>=5': `${Math.round(r.waitHighS)} s`,
      kWh: Math.round(r.energyDeliveredKWh),
    };
  });
  printTable(`priority scheduler, window sensitivity (seed ${seed})`, windows);

  // Current control: the same day, every EVSE with a limits module (32 A EVSEs, 6 A minimum; a limit
  // takes effect after 1 s). Deliverable = integral of min(budget, what the plugged-in cars could take).
  const sharing = ([
    ['ours, sharing (priority levels, every update)', 'ours'],
    ['EVerest energy manager (equal slices, 1 s)', 'everest'],
    ['openWB-like (minimum first, 10 s)', 'openwb'],
  ] as const).map(([label, policy]) => [label, runSharingSim({ ...day, sharingPolicy: policy })] as const);
  printTable(`24 h simulated site under current control (fake clock, 1 s steps, seed ${seed})`, sharing.map(([label, r]) => sharingRow(label, r)));
  const sh = sharing[0]![1];
  process.stdout.write(
    `targets (ours, sharing): kWh >= 0.97 of deliverable -> ${sh.deliveredShare.toFixed(3)} ${sh.deliveredShare >= 0.97 ? 'met' : 'MISSED'}; ` +
      `s above budget+tolerance beyond 5 s = 0 -> ${sh.overrunSecondsBeyondWindow} ${sh.overrunSecondsBeyondWindow === 0 ? 'met' : 'MISSED'}; ` +
      `inversion s beyond hysteresis = 0 -> ${sh.inversionSecondsBeyondHysteresis} ${sh.inversionSecondsBeyondHysteresis === 0 ? 'met' : 'MISSED'}; ` +
      `toggles per session max <= 3 -> ${sh.togglesMax} ${sh.togglesMax <= 3 ? 'met' : 'MISSED'}\n`,
  );
  const causes = Object.entries(sh.pauseCauses)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  const worst = sh.worstSessions.map((w) => `${w.toggles} (priority ${w.priority}: ${w.causes.join(', ') || 'no pause'})`).join('; ');
  const lost = Object.entries(sh.lossKWh)
    .sort((x, y) => y[1] - x[1])
    .map(([k, v]) => `${k} ${v.toFixed(1)}`)
    .join(', ');
  process.stdout.write(`our pauses by cause (ours, sharing): ${causes}\nmost toggles: ${worst}\nkWh short of the deliverable (ours, sharing): ${lost}\n`);
  process.stdout.write(`simulation wall time ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
