// Soak benchmark (`npm run bench:soak -- --minutes N`, not in CI): the real module process with 1000
// simulated EVSEs on a private Mosquitto, first quiet (the baseline), then under e2m fuzz and HTTP +
// MQTT API load together. Reports the communication-check gap seen on the wire by an independent
// observer process, the module's event-loop lag (measured inside it) and its RSS. See bench/README.md.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { startBroker } from '../test/support/broker.js';
import { freePort } from '../test/support/ports.js';
import { forkChild, libFile } from './lib/core-ipc.js';
import { fuzzDeck } from '../test/support/e2m-fuzz.js';
import { httpLoad, mqttApiLoad, type LoadCounts } from './lib/soak-api-load.js';
import { deployedRuntimeEnv } from '../test/support/deployed-env.js';
import { max, p50, p99, printTable } from './lib/stats.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PROBE = fileURLToPath(new URL('./lib/soak-probe.mjs', import.meta.url));
const TOKEN = 'soak-bench-token-0123456789';
const NAMESPACE = 'evse_priority/soak';
const CHECK_TOPIC = 'everest_api/1/evse_manager_consumer/+/m2e/communication_check';
const TARGETS = { gapMaxMs: 1500, lagP99Ms: 50, rssGrowthMb: 10 } as const;

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    evses: { type: 'string', default: '1000' },
    'fuzz-rate': { type: 'string', default: '200' },
    'http-rate': { type: 'string', default: '40' },
    'mqtt-rate': { type: 'string', default: '40' },
    // Another build of the module for A/B runs (e.g. a copy of main): its bin/evse-priority.js. The
    // simulator, observer and load stay this checkout's, so only the module under test differs.
    module: { type: 'string', default: 'bin/evse-priority.js' },
    // Node/V8 flags for the module process only, printed with the figures. Default: the systemd unit's
    // NODE_OPTIONS (its MALLOC_ARENA_MAX is set too); --node-flags= (empty) runs Node's defaults.
    'node-flags': { type: 'string' },
  },
});
const DEPLOYED = deployedRuntimeEnv();
const NODE_FLAGS = values['node-flags'] ?? DEPLOYED.NODE_OPTIONS;
/** The module's environment beyond ours: the unit's malloc setting unless flags were chosen by hand. */
const MODULE_ENV: Record<string, string> = values['node-flags'] === undefined && DEPLOYED.MALLOC_ARENA_MAX !== undefined ? { MALLOC_ARENA_MAX: DEPLOYED.MALLOC_ARENA_MAX } : {};
const RUNTIME = `node flags '${NODE_FLAGS}'${Object.entries(MODULE_ENV).map(([k, v]) => ` ${k}=${v}`).join('')}${values['node-flags'] === undefined ? ' (the systemd unit\'s)' : ''}`;
const SETTINGS = {
  minutes: Number(values.minutes),
  evses: Number(values.evses),
  fuzzPerS: Number(values['fuzz-rate']),
  httpPerS: Number(values['http-rate']),
  mqttPerS: Number(values['mqtt-rate']),
};
const totalMs = SETTINGS.minutes * 60_000;
/** Quiet baseline first, then load; RSS "after warm-up" is read a fifth of the way into the load. */
const quietMs = Math.max(20_000, totalMs * 0.1);
const loadMs = totalMs - quietMs;
const warmupMs = Math.max(30_000, loadMs * 0.2);

function log(line: string): void {
  process.stderr.write(`[soak] ${line}\n`);
}
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Sample {
  at: number;
  rssMb: number;
  heapTotalMb: number;
  heapUsedMb: number;
  externalMb: number;
  arrayBuffersMb: number;
  lag: { p99: number; max: number };
}
/** How far back the heap floor (least heapUsed: what survived the last collections) is looked for. */
const FLOOR_WINDOW_MS = 30_000;
interface LagFigures {
  p50: number;
  p99: number;
  max: number;
}
interface GapFigures {
  evses: number;
  checks: number;
  gaps: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  faults: number;
}

/** The next IPC message of `type` from `child`. */
function reply<T>(child: ChildProcess, type: string, timeoutMs = 30_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${type}' from child ${child.pid ?? '?'} within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (msg: { type?: string }): void => {
      if (msg.type !== type) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(msg as T);
    };
    child.on('message', onMessage);
  });
}

function writeConfig(dir: string, brokerUrl: string, httpPort: number): string {
  const file = join(dir, 'site.yaml');
  const evses = Array.from({ length: SETTINGS.evses }, (_, i) => `  - module_id: evse_${i + 1}`).join('\n');
  writeFileSync(
    file,
    [
      'instance: soak',
      `mqtt: { url: "${brokerUrl}" }`,
      `store: { dir: "${join(dir, 'data')}" }`,
      `http: { host: 127.0.0.1, port: ${httpPort}, tokens: ["${TOKEN}"], auth_failures_per_minute: 100000, body_limit_bytes: 131072 }`,
      // Enough for the cars the simulator brings at first; the API load moves it between 4 and 7 MW.
      'site: { max_power_w: 5000000 }',
      'log: { level: warn, pretty: false }',
      `evses:\n${evses}`,
    ].join('\n'),
  );
  return file;
}

async function main(): Promise<void> {
  const started = Date.now();
  const load0 = loadavg()[0] ?? 0;
  log(`module ${values.module} with ${RUNTIME}`);
  log(`${SETTINGS.minutes} min: ${Math.round(quietMs / 1000)} s quiet, ${Math.round(loadMs / 1000)} s under load; ${SETTINGS.evses} EVSEs; load average ${load0.toFixed(2)} on ${cpus().length} cores`);
  const broker = await startBroker({ name: 'soak' });
  const dir = mkdtempSync(join(tmpdir(), 'evse-priority-soak-'));
  const httpPort = await freePort();
  const children: ChildProcess[] = [];
  try {
    const moduleIds = Array.from({ length: SETTINGS.evses }, (_, i) => `evse_${i + 1}`);
    // EVerest: the simulator with seeded random arrivals, pauses and departures, in its own process.
    const sim = spawn(process.execPath, ['bin/evse-priority.js', 'sim', '--url', broker.url, '--seed', '13', ...moduleIds.flatMap((id) => ['--module-id', id])], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children.push(sim);
    const observer = forkChild(libFile('soak-observer.ts'), { SOAK_MQTT_URL: broker.url, SOAK_CHECK_TOPIC: CHECK_TOPIC });
    children.push(observer);
    await reply(observer, 'ready', 60_000);

    // The module as an operator runs it, with the probe preloaded.
    // SOAK_CPU_PROF=<dir> writes a V8 CPU profile of the module process there (open it in Chrome DevTools).
    const profile = process.env.SOAK_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.SOAK_CPU_PROF] : [];
    const nodeFlags = NODE_FLAGS.split(' ').filter((f) => f !== '');
    const module = spawn(process.execPath, [...nodeFlags, ...profile, '--import', PROBE, values.module, 'run', '--config', writeConfig(dir, broker.url, httpPort)], {
      cwd: ROOT,
      env: { ...process.env, ...MODULE_ENV },
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    });
    children.push(module);
    // Its log (JSON lines, warn and up), counted by message for the report: lines written, and the
    // occurrences they stand for (a '(repeated)' summary line carries the count of repeats it sums up).
    const logged = new Map<string, number>();
    const occurrences = new Map<string, number>();
    let partial = '';
    module.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        const msg = /"level":(\d+).*"msg":"([^"]{0,120})/.exec(line);
        const key = msg ? `${msg[1] === '40' ? 'warn' : msg[1] === '50' ? 'error' : `level ${msg[1]}`}: ${msg[2]}` : line.slice(0, 120);
        logged.set(key, (logged.get(key) ?? 0) + 1);
        const repeats = /"repeats":(\d+)/.exec(line);
        occurrences.set(key, (occurrences.get(key) ?? 0) + (repeats ? Number(repeats[1]) : 1));
      }
    });
    const samples: Sample[] = [];
    module.on('message', (msg: { type?: string } & Sample) => {
      if (msg.type === 'sample') samples.push(msg);
    });
    const phase = async (name: string): Promise<{ lag: LagFigures; gaps: GapFigures }> => {
      module.send({ type: 'phase', name });
      observer.send({ type: 'phase' });
      const [m, o] = await Promise.all([reply<{ lag: LagFigures }>(module, 'phase'), reply<GapFigures>(observer, 'phase')]);
      return { lag: m.lag, gaps: o };
    };

    // Online: every EVSE's check seen by the observer.
    const client = await mqtt.connectAsync(broker.url, { clientId: `soak-load-${process.pid}` });
    for (const deadline = Date.now() + 180_000; ; ) {
      const r = await fetch(`http://127.0.0.1:${httpPort}/healthz`).catch(() => undefined);
      if (r?.status === 200) break;
      if (Date.now() > deadline) throw new Error('module not healthy within 180 s');
      await sleep(500);
    }
    log(`module healthy after ${((Date.now() - started) / 1000).toFixed(1)} s; settling 10 s`);
    await sleep(10_000);
    await phase('start-up');
    const atStart = memoryAt(samples);

    log('quiet baseline');
    await sleep(quietMs);
    const quiet = await phase('quiet');

    log(`load: e2m fuzz ${SETTINGS.fuzzPerS}/s, HTTP ${SETTINGS.httpPerS}/s, MQTT API ${SETTINGS.mqttPerS}/s`);
    const stop = new AbortController();
    const deck = fuzzDeck();
    let fuzzSent = 0;
    const fuzz = (async () => {
      // Ten ticks a second; a rate that rounds to nothing per tick (--fuzz-rate 0) sends nothing.
      const perTick = Math.round(SETTINGS.fuzzPerS / 10);
      while (!stop.signal.aborted) {
        for (let k = 0; k < perTick; k++) {
          const m = deck[fuzzSent % deck.length];
          const evse = moduleIds[(fuzzSent * 7) % moduleIds.length];
          if (m && evse) client.publish(`everest_api/1/evse_manager_consumer/${evse}/e2m/${m.variable}`, m.payload);
          fuzzSent += 1;
        }
        await sleep(100);
      }
    })();
    const apiClient = await mqtt.connectAsync(broker.url, { clientId: `soak-api-${process.pid}` });
    const http = httpLoad({ baseUrl: `http://127.0.0.1:${httpPort}`, token: TOKEN, evses: SETTINGS.evses, ratePerS: SETTINGS.httpPerS, concurrency: 4, signal: stop.signal });
    const mqttApi = mqttApiLoad({ client: apiClient, namespace: NAMESPACE, evses: SETTINGS.evses, ratePerS: SETTINGS.mqttPerS, signal: stop.signal });
    const loadStart = Date.now();
    await sleep(warmupMs);
    const atWarm = memoryAt(samples);
    log(`warm-up over: RSS ${atWarm.rss.toFixed(0)} MB, heap floor ${atWarm['heap floor'].toFixed(0)} MB`);
    await sleep(Math.max(0, loadMs - warmupMs));
    const loaded = await phase('load');
    const loadEndAt = Date.now();
    stop.abort();
    const [httpCounts, mqttCounts] = await Promise.all([http, mqttApi, fuzz]);
    const atEnd = memoryAt(samples);
    const loadEnd = loadavg()[0] ?? 0;
    // SOAK_SAMPLES=<file>: the module's samples, one a second, as CSV (time from the start of the load).
    if (process.env.SOAK_SAMPLES) {
      const lines = samples.map((x) => [((x.at - loadStart) / 1000).toFixed(0), x.rssMb, x.heapTotalMb, x.heapUsedMb, x.externalMb, x.arrayBuffersMb, x.lag.p99, x.lag.max].map((v) => (typeof v === 'number' ? Number(v.toFixed(1)) : v)).join(','));
      writeFileSync(process.env.SOAK_SAMPLES, ['s_from_load,rss_mb,heap_total_mb,heap_used_mb,external_mb,array_buffers_mb,lag_p99_ms,lag_max_ms', ...lines].join('\n') + '\n');
    }

    const afterWarm = samples.filter((s) => s.at >= loadStart + warmupMs);
    // Growth is judged on two windows of equal length, the first after warm-up and the last of the load:
    // their peaks (RSS, heap total) and floors (heap used). One sample at each end lands anywhere in the
    // collector's cycle (the heap swings by 100 MB and more between collections under this load), so the
    // difference of two points says little: the same build gave +107 and +4 MB in two runs.
    const windowMs = Math.min(60_000, (loadEndAt - loadStart - warmupMs) / 3);
    const first = afterWarm.filter((s) => s.at < loadStart + warmupMs + windowMs);
    const last = afterWarm.filter((s) => s.at >= loadEndAt - windowMs);
    const peak = (list: readonly Sample[], pick: (s: Sample) => number): number => max(list.map(pick));
    const floor = (list: readonly Sample[]): number => Math.min(...list.map((s) => s.heapUsedMb));
    const growth = peak(last, (s) => s.rssMb) - peak(first, (s) => s.rssMb);
    const heapGrowth = floor(last) - floor(first);
    // Least-squares slope after warm-up, MB per minute: a leak shows as a steady climb.
    const slope = (pick: (s: Sample) => number): number => slopePerMinute(afterWarm.map((s) => [s.at, pick(s)]));

    printTable(`Soak: ${SETTINGS.evses} EVSEs, ${SETTINGS.minutes} min, module ${RUNTIME} (load average ${load0.toFixed(2)} at start, ${loadEnd.toFixed(2)} at end, ${cpus().length} cores)`, [
      row('comm-check gap max (ms)', quiet.gaps.maxMs, loaded.gaps.maxMs, `<= ${TARGETS.gapMaxMs}`, loaded.gaps.maxMs <= TARGETS.gapMaxMs),
      row('comm-check gap p99 (ms)', quiet.gaps.p99Ms, loaded.gaps.p99Ms, '', undefined),
      row('comm-check gap p50 (ms)', quiet.gaps.p50Ms, loaded.gaps.p50Ms, '', undefined),
      row('gaps > 5 s (CommunicationFault)', quiet.gaps.faults, loaded.gaps.faults, '0', loaded.gaps.faults === 0),
      row('checks observed', quiet.gaps.checks, loaded.gaps.checks, '', undefined),
      row('event-loop lag p99 (ms)', quiet.lag.p99, loaded.lag.p99, `<= ${TARGETS.lagP99Ms}`, loaded.lag.p99 <= TARGETS.lagP99Ms),
      row('event-loop lag max (ms)', quiet.lag.max, loaded.lag.max, '', undefined),
    ], ['figure', 'quiet (baseline)', 'under load', 'target', 'verdict']);
    printTable(`Module memory (MB; heap floor: least heap used in the ${FLOOR_WINDOW_MS / 1000} s before the point, what survived collection)`, [
      { point: 'start (online + 10 s)', ...atStart },
      { point: `after warm-up (${Math.round(warmupMs / 1000)} s of load)`, ...atWarm },
      {
        point: 'peak',
        rss: max(samples.map((s) => s.rssMb)),
        'heap total': max(samples.map((s) => s.heapTotalMb)),
        'heap floor': '',
        external: max(samples.map((s) => s.externalMb)),
        'array buffers': max(samples.map((s) => s.arrayBuffersMb)),
      },
      { point: 'end', ...atEnd },
      {
        point: `growth: last ${Math.round(windowMs / 1000)} s vs first ${Math.round(windowMs / 1000)} s after warm-up (peaks; heap: floors)`,
        rss: growth,
        'heap total': peak(last, (s) => s.heapTotalMb) - peak(first, (s) => s.heapTotalMb),
        'heap floor': heapGrowth,
        external: peak(last, (s) => s.externalMb) - peak(first, (s) => s.externalMb),
        'array buffers': peak(last, (s) => s.arrayBuffersMb) - peak(first, (s) => s.arrayBuffersMb),
      },
      {
        point: 'slope after warm-up (MB/min)',
        rss: slope((s) => s.rssMb),
        'heap total': slope((s) => s.heapTotalMb),
        'heap floor': '',
        external: slope((s) => s.externalMb),
        'array buffers': slope((s) => s.arrayBuffersMb),
      },
    ]);
    process.stdout.write(
      `RSS growth after warm-up (peak of the last ${Math.round(windowMs / 1000)} s minus peak of the first ${Math.round(windowMs / 1000)} s) ${growth.toFixed(1)} MB (target <= ${TARGETS.rssGrowthMb} MB): ${growth <= TARGETS.rssGrowthMb ? 'PASS' : 'MISS'}; heap floor ${heapGrowth >= 0 ? '+' : ''}${heapGrowth.toFixed(1)} MB\n`,
    );
    printTable('Load sent', [loadRow('HTTP API', httpCounts), loadRow('MQTT API', mqttCounts), { source: 'e2m fuzz', sent: fuzzSent, answers: `${deck.length} distinct hostile messages`, 'p50 ms': '', 'p99 ms': '' }]);
    const fiveXX = httpCounts.byClass['5xx'] ?? 0;
    process.stdout.write(`HTTP 5xx: ${fiveXX} (target 0): ${fiveXX === 0 ? 'PASS' : 'MISS'}\n`);
    for (const f of httpCounts.failures) process.stdout.write(`  ${f}\n`);

    module.kill('SIGTERM');
    const stdoutDone = new Promise((resolve) => module.stdout?.once('close', resolve));
    const code = await new Promise<number | null>((resolve) => module.once('exit', (c) => resolve(c)));
    await stdoutDone;
    process.stdout.write(`module exited with ${String(code)} after SIGTERM (alive through the whole run: ${code === 0 ? 'yes' : 'NO'})\n`);
    // After the exit: the module sums up what it was still counting (the last minute's repeats) as it stops.
    printTable(
      'Module log lines (warn and up), by message; occurrences: what the lines stand for, repeats summed up included',
      [...logged].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([line, count]) => ({ lines: count, occurrences: occurrences.get(line) ?? count, line })),
    );

    observer.send({ type: 'stop' });
    await client.endAsync();
    await apiClient.endAsync();
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Memory at the latest sample, with the heap floor over the window before it. */
function memoryAt(samples: readonly Sample[]): { rss: number; 'heap total': number; 'heap floor': number; external: number; 'array buffers': number } {
  const last = samples.at(-1);
  if (!last) return { rss: 0, 'heap total': 0, 'heap floor': 0, external: 0, 'array buffers': 0 };
  const window = samples.filter((s) => s.at > last.at - FLOOR_WINDOW_MS);
  return { rss: last.rssMb, 'heap total': last.heapTotalMb, 'heap floor': Math.min(...window.map((s) => s.heapUsedMb)), external: last.externalMb, 'array buffers': last.arrayBuffersMb };
}

function row(figure: string, quiet: number, loaded: number, target: string, pass: boolean | undefined): Record<string, string | number> {
  return { figure, 'quiet (baseline)': quiet, 'under load': loaded, target, verdict: pass === undefined ? '' : pass ? 'PASS' : 'MISS' };
}

function loadRow(source: string, counts: LoadCounts): Record<string, string | number> {
  const answers = Object.entries(counts.byClass)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return { source, sent: counts.sent, answers, 'p50 ms': p50(counts.latenciesMs), 'p99 ms': p99(counts.latenciesMs) };
}

function slopePerMinute(points: ReadonlyArray<readonly [number, number]>): number {
  if (points.length < 2) return 0;
  const n = points.length;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : (num / den) * 60_000;
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`[soak] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
