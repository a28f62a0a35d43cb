// HTTP API throughput and p99 latency under a running module (npm run bench:http).
//
// This process: local Mosquitto, the simulated EVerest with 100 EVSEs (heartbeat and power meter at
// 1 Hz, a third of them charging), the module and the HTTP server, plus a static route as baseline.
// Child process (this file again, with --load): autocannon, so the load generator does not share the
// server's event loop (autocannon must own its process's main thread, a worker thread confuses it).
// Loopback only. BENCH_DURATION_S (default 5) and BENCH_CONNECTIONS (default 10) tune a run.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';

interface LoadSpec {
  url: string;
  method: 'GET' | 'PUT';
  path: string;
  token: string;
  durationS: number;
  connections: number;
  /** PUT bodies cycle through these module ids. */
  moduleIds?: string[];
}

interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  total: number;
  non2xx: number;
  errors: number;
}

const LOAD_FLAG = '--load';

// --- load generator (child process) ---------------------------------------------------------------

interface AutocannonRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string;
  setupRequest?: (request: AutocannonRequest) => AutocannonRequest;
}

interface AutocannonHistogram {
  average: number;
  p50: number;
  p99: number;
  total: number;
}

interface AutocannonOutcome {
  requests: AutocannonHistogram;
  latency: AutocannonHistogram;
  non2xx: number;
  errors: number;
  timeouts: number;
}

type Autocannon = (options: { url: string; connections: number; duration: number; requests: AutocannonRequest[] }) => Promise<AutocannonOutcome>;

async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  // autocannon ships CommonJS without type declarations.
  const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;
  let n = 0;
  const request: AutocannonRequest = {
    method: spec.method,
    path: spec.path,
    headers: { authorization: `Bearer ${spec.token}`, 'content-type': 'application/json' },
  };
  if (spec.method === 'PUT') {
    const ids = spec.moduleIds ?? [];
    request.setupRequest = (req) => {
      n += 1;
      const module_id = ids[n % ids.length] ?? 'evse_001';
      return { ...req, body: JSON.stringify({ by: 'module', module_id, connector_id: 1, priority: (n % 19) - 9, scope: 'persistent' }) };
    };
  }
  const outcome = await autocannon({ url: spec.url, connections: spec.connections, duration: spec.durationS, requests: [request] });
  return {
    rps: outcome.requests.average,
    p50: outcome.latency.p50,
    p99: outcome.latency.p99,
    total: outcome.requests.total,
    non2xx: outcome.non2xx,
    errors: outcome.errors + outcome.timeouts,
  };
}

function inChildProcess(spec: LoadSpec): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const args = ['--import', 'tsx', fileURLToPath(import.meta.url), LOAD_FLAG, JSON.stringify(spec)];
    execFile(process.execPath, args, { maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
      if (error) {
        reject(new Error(`load generator failed: ${error.message}\n${stderr}`));
        return;
      }
      const last = stdout.trim().split('\n').pop() ?? '';
      resolve(JSON.parse(last) as LoadResult);
    });
  });
}

// --- module, simulator and server (this process) --------------------------------------------------

async function main(): Promise<void> {
  const { startBroker } = await import('../test/support/broker.js');
  const { loadConfig } = await import('../src/config/load.js');
  const { loadContract } = await import('../src/everest/contract.js');
  const { startApp } = await import('../src/app.js');
  const { startSimulator } = await import('../src/sim/simulator.js');
  const { DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT } = await import('../src/api/http/schemas/pagination.js');

  const durationS = Number(process.env.BENCH_DURATION_S ?? 5);
  const connections = Number(process.env.BENCH_CONNECTIONS ?? 10);
  const evseCount = 100;
  const token = 'bench-token-0123456789';
  const moduleIds = Array.from({ length: evseCount }, (_, i) => `evse_${String(i + 1).padStart(3, '0')}`);
  // The simulator warns about every EVSE's initial communication check; only errors matter here.
  const logger = pino({ level: process.env.BENCH_LOG_LEVEL ?? 'error' });
  const storeDir = mkdtempSync(join(tmpdir(), 'evse-priority-bench-'));

  const broker = await startBroker({ name: 'bench-http' });
  const config = loadConfig({
    env: {},
    overrides: {
      instance: 'bench',
      mqtt: { url: broker.url },
      evses: moduleIds.map((module_id) => ({ module_id, serial_number: `SN-${module_id}`, connectors: [1], phases: 3 })),
      site: { max_power_w: 400_000 },
      store: { dir: storeDir },
      http: { host: '127.0.0.1', port: 0, tokens: [token] },
    },
  });
  const contract = loadContract();
  // The same composition root `evse-priority run` uses, plus the baseline route on the same fastify.
  const body = { data: { hello: 'world' }, status_code: 1000, status_message: 'Success', timestamp: new Date().toISOString() };
  const app = await startApp(config, logger, {
    contract,
    http: { extend: (fastify) => void fastify.get('/bench/static', async () => body) },
  });
  const { service } = app;
  const server = app.http;
  if (!server) throw new Error('http bench: the HTTP server did not start');
  const sim = await startSimulator({
    url: broker.url,
    moduleIds,
    heartbeatIntervalMs: 1000,
    powermeterIntervalMs: 1000,
    evse: { hwMaxCurrentA: 16 },
    logger,
    contract,
  });
  try {
    const started = Date.now();
    while (service.health().evses_online < evseCount) {
      if (Date.now() - started > 30_000) throw new Error(`only ${service.health().evses_online} of ${evseCount} EVSEs online`);
      await new Promise((r) => setTimeout(r, 200));
    }
    for (const id of moduleIds.filter((_, i) => i % 3 === 0)) sim.apply({ module_id: id, action: 'plug_in', auto_authorize: true });

    const runs: Array<{ name: string; spec: Pick<LoadSpec, 'method' | 'path' | 'moduleIds'> }> = [
      { name: 'GET /bench/static (baseline)', spec: { method: 'GET', path: '/bench/static' } },
      // The default page (50 of the 100 EVSEs), and the whole list in one page of up to MAX_PAGE_LIMIT.
      { name: 'GET /v1/evses', spec: { method: 'GET', path: '/v1/evses' } },
      { name: `GET /v1/evses?limit=${MAX_PAGE_LIMIT}`, spec: { method: 'GET', path: `/v1/evses?limit=${MAX_PAGE_LIMIT}` } },
      // PUT before GET, so the list holds 100 assigned priorities (two pages' worth at the default limit).
      { name: 'PUT /v1/priorities', spec: { method: 'PUT', path: '/v1/priorities', moduleIds } },
      { name: 'GET /v1/priorities', spec: { method: 'GET', path: '/v1/priorities' } },
    ];
    console.log(`evse-priority HTTP bench: ${evseCount} EVSEs, ${connections} connections, ${durationS} s per route, node ${process.version}`);
    const results: Array<{ name: string; result: LoadResult }> = [];
    for (const run of runs) {
      results.push({ name: run.name, result: await inChildProcess({ ...run.spec, url: server.url, token, durationS, connections }) });
    }
    const baseline = results[0]?.result.rps ?? 1;
    console.table(
      results.map(({ name, result }) => ({
        route: name,
        'req/s': Math.round(result.rps),
        'p50 ms': result.p50,
        'p99 ms': result.p99,
        'vs baseline': `${((result.rps / baseline) * 100).toFixed(1)} %`,
        requests: result.total,
        'non-2xx': result.non2xx,
        errors: result.errors,
      })),
    );
    console.log(`EVSEs: ${evseCount}; assigned priorities during GET /v1/priorities: ${service.priorities().length}; default page ${DEFAULT_PAGE_LIMIT}, largest ${MAX_PAGE_LIMIT}`);
    const failed = results.filter((r) => r.result.non2xx > 0 || r.result.errors > 0);
    if (failed.length > 0) {
      console.error(`non-2xx or errors on: ${failed.map((f) => f.name).join(', ')}`);
      process.exitCode = 1;
    }
  } finally {
    await app.stop();
    await sim.stop();
    await broker.stop();
    rmSync(storeDir, { recursive: true, force: true });
  }
}

const loadAt = process.argv.indexOf(LOAD_FLAG);
if (loadAt !== -1) {
  runLoad(JSON.parse(process.argv[loadAt + 1] ?? '{}') as LoadSpec).then(
    (result) => console.log(JSON.stringify(result)),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
} else {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
