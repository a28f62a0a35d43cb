// Start-up benchmark (`npm run bench:startup`): the built artifact against a bare mqtt.js client, on a private
// Mosquitto. See bench/README.md ("Start-up benchmark").
import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { startBroker } from '../test/support/broker.js';
import { median, printTable } from './lib/stats.js';
import { deployedRuntimeEnv } from '../test/support/deployed-env.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** What a charger runs; STARTUP_ARTIFACT measures another entry point (e.g. the old bin + tsc output). */
const ARTIFACT = process.env.STARTUP_ARTIFACT ?? join(ROOT, 'dist', 'evse-priority.mjs');
const BARE = fileURLToPath(new URL('./lib/startup-bare.mjs', import.meta.url));

const SETTINGS = { rounds: 5, rssRounds: 3, rssEvses: 1000, rssAfterMs: 10_000, startTimeoutMs: 30_000 } as const;
const TARGETS = { startRatioMax: 2, rssMaxMb: 100, sizeMaxMb: 15 } as const;

/** NODE_OPTIONS and MALLOC_ARENA_MAX of the systemd unit (the Docker image sets the same): the bundle runs as a charger runs it. */
const DEPLOYED = deployedRuntimeEnv();
const NODE_OPTIONS = DEPLOYED.NODE_OPTIONS;

const CHECK_TOPIC = (moduleId: string) => `everest_api/1/evse_manager_consumer/${moduleId}/m2e/communication_check`;

function log(line: string): void {
  process.stderr.write(`[startup] ${line}\n`);
}

function writeConfig(dir: string, url: string, moduleIds: readonly string[]): string {
  const file = join(dir, 'site.yaml');
  const evses = moduleIds.map((id) => `  - module_id: ${id}`).join('\n');
  writeFileSync(
    file,
    `mqtt:\n  url: ${url}\nstore:\n  dir: ${join(dir, 'data')}\nhttp:\n  port: 0\n  tokens: [bench-token-0123456789]\nlog:\n  level: warn\n  pretty: false\nevses:\n${evses}\n`,
  );
  return file;
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1];
  if (!kb) throw new Error(`no VmRSS for ${pid}`);
  return Number(kb) / 1024;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  if (!existsSync(ARTIFACT)) throw new Error(`${ARTIFACT} is missing: run npm run build first (npm run bench:startup does)`);
  const broker = await startBroker({ name: 'bench-startup' });
  const watcher = await mqtt.connectAsync(broker.url, { clientId: 'bench-startup-watcher' });
  const seen = new Map<string, (t: number) => void>();
  watcher.on('message', (topic) => {
    const t = performance.now();
    const moduleId = topic.split('/')[3] ?? '';
    seen.get(moduleId)?.(t);
    seen.delete(moduleId);
  });
  await watcher.subscribeAsync(CHECK_TOPIC('+'));
  const firstCheck = (moduleId: string): Promise<number> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no communication check from ${moduleId}`)), SETTINGS.startTimeoutMs);
      seen.set(moduleId, (t) => {
        clearTimeout(timer);
        resolve(t);
      });
    });

  const work = mkdtempSync(join(tmpdir(), 'evse-priority-startup-'));
  const children: ChildProcess[] = [];
  const spawnNode = (args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess => {
    const child = spawn(process.execPath, args, { cwd: work, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ...env } });
    children.push(child);
    return child;
  };
  try {
    const ours: number[] = [];
    const bare: number[] = [];
    log(`artifact ${ARTIFACT} with NODE_OPTIONS='${NODE_OPTIONS}'${DEPLOYED.MALLOC_ARENA_MAX !== undefined ? ` MALLOC_ARENA_MAX=${DEPLOYED.MALLOC_ARENA_MAX}` : ''} (deploy/evse-priority.service); ${SETTINGS.rounds} alternating rounds of start -> first communication check`);
    for (let round = 0; round < SETTINGS.rounds; round += 1) {
      const order = round % 2 === 0 ? (['ours', 'bare'] as const) : (['bare', 'ours'] as const);
      for (const kind of order) {
        const moduleId = `${kind}_${round}`;
        const seenAt = firstCheck(moduleId);
        if (kind === 'ours') {
          const config = writeConfig(mkdtempSync(join(work, 'run-')), broker.url, [moduleId]);
          const t0 = performance.now();
          const child = spawnNode([ARTIFACT, 'run', '--config', config], DEPLOYED);
          ours.push((await seenAt) - t0);
          await stop(child);
        } else {
          const t0 = performance.now();
          const child = spawnNode([BARE, broker.url, CHECK_TOPIC(moduleId)]);
          bare.push((await seenAt) - t0);
          await stop(child);
        }
      }
    }

    log(`RSS ${SETTINGS.rssAfterMs / 1000} s after start, ${SETTINGS.rssEvses} EVSEs vs the bare client holding its connection`);
    const oursRss: number[] = [];
    const bareRss: number[] = [];
    const many = Array.from({ length: SETTINGS.rssEvses }, (_, i) => `rss_evse_${i}`);
    for (let round = 0; round < SETTINGS.rssRounds; round += 1) {
      const config = writeConfig(mkdtempSync(join(work, 'rss-')), broker.url, many);
      const child = spawnNode([ARTIFACT, 'run', '--config', config], DEPLOYED);
      await sleep(SETTINGS.rssAfterMs);
      if (child.exitCode !== null) throw new Error(`the module exited with ${child.exitCode} before the RSS reading`);
      oursRss.push(rssMb(child.pid!));
      await stop(child);
      const b = spawnNode([BARE, broker.url, CHECK_TOPIC(`rss_bare_${round}`)], { HOLD_MS: String(SETTINGS.rssAfterMs + 5000) });
      await sleep(SETTINGS.rssAfterMs);
      bareRss.push(rssMb(b.pid!));
      await stop(b);
    }

    log('artifact size: npm pack, then npm install --omit=dev of the tarball into an empty directory');
    const size = artifactSize(work);

    const startRatio = median(ours) / median(bare);
    const rss = median(oursRss);
    const load = loadavg()[0] ?? 0;
    printTable('bench:startup (built artifact vs bare mqtt.js client, same run)', [
      { figure: 'start -> first communication check, median of 5 (ms)', ours: median(ours), bare: median(bare), ratio: startRatio, target: `<= ${TARGETS.startRatioMax}x bare`, verdict: startRatio <= TARGETS.startRatioMax ? 'PASS' : 'MISS' },
      { figure: `RSS, ${SETTINGS.rssEvses} EVSEs, ${SETTINGS.rssAfterMs / 1000} s after start, median of ${SETTINGS.rssRounds} (MB)`, ours: rss, bare: median(bareRss), ratio: rss / median(bareRss), target: `<= ${TARGETS.rssMaxMb} MB`, verdict: rss <= TARGETS.rssMaxMb ? 'PASS' : 'MISS' },
      { figure: 'installed: package + production dependencies (MB)', ours: size.totalMb, target: `<= ${TARGETS.sizeMaxMb} MB`, verdict: size.totalMb <= TARGETS.sizeMaxMb ? 'PASS' : 'MISS' },
    ], ['figure', 'ours', 'bare', 'ratio', 'target', 'verdict']);
    process.stdout.write(`\nrounds (ms): ours ${ours.map((x) => x.toFixed(0)).join(' ')} | bare ${bare.map((x) => x.toFixed(0)).join(' ')}\n`);
    process.stdout.write(`RSS (MB): ours ${oursRss.map((x) => x.toFixed(1)).join(' ')} | bare ${bareRss.map((x) => x.toFixed(1)).join(' ')}\n`);
    process.stdout.write(`size: ${size.detail}\n`);
    if (load > cpus().length) process.stdout.write(`WARNING: load average ${load.toFixed(1)} > ${cpus().length} CPUs; times say as much about the machine as about the code\n`);
  } finally {
    await Promise.all(children.map(stop));
    await watcher.endAsync();
    await broker.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

/** What `npm install` puts on a charger: the packed package plus its production dependencies, on disk. */
function artifactSize(work: string): { totalMb: number; detail: string } {
  const packDir = join(work, 'pack');
  const installDir = join(work, 'install');
  execFileSync('mkdir', ['-p', packDir, installDir]);
  const out = execFileSync('npm', ['pack', '--silent', '--pack-destination', packDir], { cwd: ROOT, encoding: 'utf8' });
  const tarball = join(packDir, out.trim().split('\n').pop() ?? '');
  writeFileSync(join(installDir, 'package.json'), '{"name":"startup-bench-install","private":true}\n');
  execFileSync('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline', '--silent', tarball], { cwd: installDir, stdio: 'ignore' });
  const du = (path: string) => Number(execFileSync('du', ['-sk', path], { encoding: 'utf8' }).split('\t')[0]) / 1024;
  const total = du(join(installDir, 'node_modules'));
  const own = du(join(installDir, 'node_modules', 'evse-priority'));
  return { totalMb: total, detail: `${total.toFixed(1)} MB installed (evse-priority itself ${own.toFixed(1)} MB, dependencies ${(total - own).toFixed(1)} MB)` };
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
