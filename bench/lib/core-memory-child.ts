// Child process: one memory sample per fresh process, so heaps of different EVSE counts never share
// a process. Modes, each a rung of the same ladder so that differences attribute cost:
//   empty     node + tsx only (what the TypeScript loader costs; absent when running compiled JS)
//   baseline  + every module the running module imports, nothing started
//   module    + startModule() with N EVSEs, connected, communication checks flowing
// The project's modules are imported dynamically so that `empty` really loads none of them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchModuleIds } from './core-messages.js';
import { type MemoryFigures, report } from './core-ipc.js';

const MB = 1024 * 1024;
const MODES: readonly MemoryFigures['mode'][] = ['empty', 'baseline', 'module'];
const mode = MODES.find((m) => m === process.env.BENCH_MEM_MODE) ?? 'baseline';
const evses = Number(process.env.BENCH_EVSES ?? '0');
const settleMs = Number(process.env.BENCH_SETTLE_MS ?? '3000');
const url = process.env.BENCH_MQTT_URL ?? '';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function collectGarbage(): boolean {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return false;
  // Twice: the first pass can leave objects whose finalizers free more on the second.
  gc();
  gc();
  return true;
}

async function sample(communicationChecks: number): Promise<MemoryFigures> {
  collectGarbage();
  // V8 sweeps and hands freed pages back to the OS on background threads; reading RSS right after gc()
  // catches a varying part of that still mapped.
  await sleep(300);
  const gcExposed = collectGarbage();
  const m = process.memoryUsage();
  return {
    mode,
    evses,
    rssMb: m.rss / MB,
    heapUsedMb: m.heapUsed / MB,
    heapTotalMb: m.heapTotal / MB,
    externalMb: m.external / MB,
    maxRssMb: (process.resourceUsage().maxRSS * 1024) / MB,
    communicationChecks,
    gcExposed,
  };
}

async function loadModuleCode() {
  const [{ filter, firstValueFrom, timeout }, { loadConfig }, { CountingEverestMetrics }, { createLogger }, { startModule }] = await Promise.all([
    import('rxjs'),
    import('../../src/config/load.js'),
    import('../../src/everest/metrics.js'),
    import('../../src/log/logger.js'),
    import('../../src/module.js'),
  ]);
  return { filter, firstValueFrom, timeout, loadConfig, CountingEverestMetrics, createLogger, startModule };
}

async function main(): Promise<void> {
  if (mode === 'empty') {
    await sleep(settleMs);
    await report({ type: 'memory', figures: await sample(0) });
    return;
  }
  const code = await loadModuleCode();
  if (mode === 'baseline') {
    await sleep(settleMs);
    await report({ type: 'memory', figures: await sample(0) });
    return;
  }
  const { filter, firstValueFrom, timeout, loadConfig, CountingEverestMetrics, createLogger, startModule } = code;
  const storeDir = mkdtempSync(join(tmpdir(), 'evse-bench-store-'));
  try {
    const config = loadConfig({
      env: {},
      overrides: {
        instance: `bench-mem-${evses}-${process.pid}`,
        mqtt: { url },
        evses: benchModuleIds(evses).map((module_id) => ({ module_id, connectors: [1], phases: 3 })),
        store: { dir: storeDir },
        http: { enabled: false },
        log: { level: 'fatal', pretty: false },
      },
    });
    const logger = createLogger({ level: 'silent', pretty: false });
    const metrics = new CountingEverestMetrics();
    const module = await startModule(config, logger, { metrics });
    await firstValueFrom(module.transport.status$.pipe(filter((s) => s === 'online'), timeout(10_000)));
    await sleep(settleMs);
    const figures = await sample(metrics.out.get('communication_check') ?? 0);
    await module.stop();
    await report({ type: 'memory', figures });
  } finally {
    rmSync(storeDir, { recursive: true, force: true });
  }
}

main()
  .catch((err: unknown) => report({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) }))
  .finally(() => {
    process.disconnect?.();
    // A handle the module forgot to close must not keep the run waiting; the figures are already out.
    setTimeout(() => process.exit(0), 1000).unref();
  });
