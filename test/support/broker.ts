/**
 * Real-broker helper for integration tests.
 *
 * Project rule: tests prove behaviour against a REAL Mosquitto broker, never a fake. This helper starts a
 * private broker per call on its own free port (never the machine's 127.0.0.1:1883), so tests may kill and
 * restart it freely.
 *
 * Strategy order (env MQTT_TEST_STRATEGY=external|testcontainers|local forces one):
 *   a) external         MQTT_TEST_URL is set: use that broker as-is (cannot be killed/restarted).
 *   b) testcontainers   a container runtime is reachable: eclipse-mosquitto:2 on a fixed free host port.
 *   c) local-mosquitto  a `mosquitto` binary exists: child process with a generated config in a temp dir.
 * If none works, startBroker() throws, listing every strategy and why it failed.
 */
import { redactUrl } from '../../src/log/redact.js';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, closeSync, constants as fsConstants, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import mqtt from 'mqtt';
import type { ContainerRuntimeClient } from 'testcontainers';
import { freePort } from './ports.js';

export type BrokerStrategy = 'external' | 'testcontainers' | 'local-mosquitto';

export interface TestBroker {
  /** mqtt://127.0.0.1:<port> (or the MQTT_TEST_URL for 'external'). */
  url: string;
  port: number;
  strategy: BrokerStrategy;
  /** false for 'external': such a broker cannot be killed or restarted by the tests. */
  canRestart: boolean;
  /** Kill and clean up. Idempotent. No-op for 'external'. */
  stop(): Promise<void>;
  /** Hard kill (SIGKILL); the port stays reserved for restart(). */
  kill(): Promise<void>;
  /** Start again on the SAME port; resolves once the broker accepts MQTT connections. */
  restart(): Promise<void>;
  /** The broker's captured log so far (for debugging failing tests). '' for 'external'. */
  readLog(): Promise<string>;
}

export interface StartBrokerOptions {
  /** Label used in temp dir names, logs and error messages. */
  name?: string;
}

export type StrategyProbe =
  | { strategy: BrokerStrategy; detail: string; failures: string[] }
  | { strategy: null; detail: string; failures: string[] };

const READY_TIMEOUT_MS = 5000;
const RUNTIME_PROBE_TIMEOUT_MS = 2500;
const MOSQUITTO_IMAGE = 'eclipse-mosquitto:2';
const FORCE_VALUES = ['external', 'testcontainers', 'local'] as const;
type ForcedStrategy = (typeof FORCE_VALUES)[number];

// ---------------------------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------------------------

/** Start a real MQTT broker for a test (see module doc for the strategy order). */
export async function startBroker(options: StartBrokerOptions = {}): Promise<TestBroker> {
  const name = sanitizeName(options.name ?? 'broker');
  const forced = forcedStrategy();
  const failures: string[] = [];

  // (a) external
  const externalUrl = process.env.MQTT_TEST_URL;
  if (forced === 'external' || (forced === undefined && externalUrl)) {
    if (!externalUrl) {
      failures.push('external: MQTT_TEST_STRATEGY=external but MQTT_TEST_URL is not set');
    } else {
      return startExternal(externalUrl, name); // an explicitly configured broker must work; no silent fallback
    }
  } else {
    failures.push(externalUrl ? `external: skipped because MQTT_TEST_STRATEGY=${forced ?? ''}` : 'external: MQTT_TEST_URL not set');
  }

  // (b) testcontainers
  if (forced === undefined || forced === 'testcontainers') {
    const runtime = await probeContainerRuntime();
    if (runtime.ok) {
      try {
        return await startContainer(name, runtime.client);
      } catch (err) {
        const reason = `testcontainers: runtime reachable (${runtime.detail}) but starting ${MOSQUITTO_IMAGE} failed: ${errorMessage(err)}`;
        failures.push(reason);
        if (forced === undefined) console.warn(`[broker] ${reason}; falling back to the local mosquitto binary`);
      }
    } else {
      failures.push(`testcontainers: ${runtime.reason}`);
    }
  } else {
    failures.push(`testcontainers: skipped because MQTT_TEST_STRATEGY=${forced}`);
  }

  // (c) local mosquitto
  if (forced === undefined || forced === 'local') {
    const bin = findMosquitto();
    if (bin.path) {
      try {
        return await startLocal(name, bin.path);
      } catch (err) {
        failures.push(`local-mosquitto: ${bin.path} failed to start: ${errorMessage(err)}`);
      }
    } else {
      failures.push(`local-mosquitto: ${bin.reason}`);
    }
  } else {
    failures.push(`local-mosquitto: skipped because MQTT_TEST_STRATEGY=${forced}`);
  }

  throw new Error(
    [
      `startBroker(${name}): NO REAL MQTT BROKER AVAILABLE. Strategies tried:`,
      ...failures.map((f) => `  - ${f}`),
      'Fix: install mosquitto (apt-get install -y mosquitto), make a container runtime reachable for testcontainers,',
      'or set MQTT_TEST_URL=mqtt://host:port. Tests never fall back to an in-process fake broker.',
    ].join('\n'),
  );
}

/**
 * Work out (cheaply, without starting anything) which strategy startBroker() would pick.
 * Used by the vitest globalSetup to print the strategy once and to fail fast on CI.
 */
export async function probeStrategy(): Promise<StrategyProbe> {
  const forced = forcedStrategy();
  const failures: string[] = [];
  const externalUrl = process.env.MQTT_TEST_URL;
  if (forced === 'external' || (forced === undefined && externalUrl)) {
    if (externalUrl) return { strategy: 'external', detail: redactUrl(externalUrl), failures };
    failures.push('external: MQTT_TEST_STRATEGY=external but MQTT_TEST_URL is not set');
    return { strategy: null, detail: 'none', failures };
  }
  failures.push(externalUrl ? `external: skipped because MQTT_TEST_STRATEGY=${forced ?? ''}` : 'external: MQTT_TEST_URL not set');
  if (forced === undefined || forced === 'testcontainers') {
    const runtime = await probeContainerRuntime();
    if (runtime.ok) return { strategy: 'testcontainers', detail: `${MOSQUITTO_IMAGE} via ${runtime.detail}`, failures };
    failures.push(`testcontainers: ${runtime.reason}`);
  }
  if (forced === undefined || forced === 'local') {
    const bin = findMosquitto();
    if (bin.path) return { strategy: 'local-mosquitto', detail: bin.path, failures };
    failures.push(`local-mosquitto: ${bin.reason}`);
  }
  return { strategy: null, detail: 'none', failures };
}

// ---------------------------------------------------------------------------------------------------------------
// Strategy selection helpers
// ---------------------------------------------------------------------------------------------------------------

function forcedStrategy(): ForcedStrategy | undefined {
  const raw = process.env.MQTT_TEST_STRATEGY?.trim();
  if (!raw) return undefined;
  const normalized = raw === 'local-mosquitto' ? 'local' : raw;
  const match = FORCE_VALUES.find((v) => v === normalized);
  if (!match) throw new Error(`MQTT_TEST_STRATEGY='${raw}' is invalid; use one of ${FORCE_VALUES.join('|')}`);
  return match;
}

type RuntimeProbe = { ok: true; client: ContainerRuntimeClient; detail: string } | { ok: false; reason: string };
let runtimeProbe: Promise<RuntimeProbe> | undefined;

/** Probe the container runtime once per process; fails fast (no socket → no import at all, otherwise ≤ 2.5 s). */
function probeContainerRuntime(): Promise<RuntimeProbe> {
  runtimeProbe ??= doProbeContainerRuntime();
  return runtimeProbe;
}

async function doProbeContainerRuntime(): Promise<RuntimeProbe> {
  // Cheap pre-check mirroring testcontainers' own discovery, so the common "no Docker" case costs ~0 ms and
  // never even loads testcontainers/dockerode.
  if (process.platform !== 'win32') {
    const hints = containerRuntimeHints();
    if (!hints.found) return { ok: false, reason: `no container runtime found (${hints.checked})` };
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`runtime did not answer within ${RUNTIME_PROBE_TIMEOUT_MS} ms`)), RUNTIME_PROBE_TIMEOUT_MS);
      timer.unref();
    });
    const client = await Promise.race([
      import('testcontainers').then((tc) => tc.getContainerRuntimeClient()),
      timeout,
    ]);
    const rt = client.info.containerRuntime;
    return { ok: true, client, detail: `${rt.host}, server ${rt.serverVersion}` };
  } catch (err) {
    return { ok: false, reason: `no reachable container runtime: ${errorMessage(err)}` };
  } finally {
    if (timer) clearTimeout(timer);
  }
}

function containerRuntimeHints(): { found: boolean; checked: string } {
  const envVars = ['DOCKER_HOST', 'TESTCONTAINERS_DOCKER_SOCKET_OVERRIDE'];
  for (const v of envVars) if (process.env[v]) return { found: true, checked: `${v} is set` };
  const home = safeHomedir();
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  const candidates = [
    home ? join(home, '.testcontainers.properties') : undefined,
    '/var/run/docker.sock',
    process.env.XDG_RUNTIME_DIR ? join(process.env.XDG_RUNTIME_DIR, 'docker.sock') : undefined,
    home ? join(home, '.docker', 'run', 'docker.sock') : undefined,
    home ? join(home, '.docker', 'desktop', 'docker.sock') : undefined,
    uid === undefined ? undefined : `/run/user/${uid}/docker.sock`,
  ].filter((p): p is string => p !== undefined);
  for (const p of candidates) if (existsSync(p)) return { found: true, checked: `${p} exists` };
  return { found: false, checked: `DOCKER_HOST unset, none of ${candidates.join(', ')} exist` };
}

function findMosquitto(): { path: string; reason?: undefined } | { path?: undefined; reason: string } {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  const candidates = [...dirs.map((d) => join(d, 'mosquitto')), '/usr/sbin/mosquitto', '/usr/local/sbin/mosquitto'];
  for (const candidate of candidates) {
    try {
      accessSync(candidate, fsConstants.X_OK);
      return { path: candidate };
    } catch {
      // keep looking
    }
  }
  return { reason: 'no `mosquitto` binary on PATH nor at /usr/sbin/mosquitto or /usr/local/sbin/mosquitto' };
}

// ---------------------------------------------------------------------------------------------------------------
// (a) external
// ---------------------------------------------------------------------------------------------------------------

async function startExternal(url: string, name: string): Promise<TestBroker> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`startBroker(${name}): MQTT_TEST_URL='${url}' is not a valid URL`);
  }
  const defaultPorts: Record<string, number> = { 'mqtt:': 1883, 'tcp:': 1883, 'mqtts:': 8883, 'ssl:': 8883, 'tls:': 8883, 'ws:': 80, 'wss:': 443 };
  const port = parsed.port ? Number(parsed.port) : (defaultPorts[parsed.protocol] ?? 1883);
  try {
    await waitForMqtt(url, READY_TIMEOUT_MS);
  } catch (err) {
    throw new Error(`startBroker(${name}): external broker MQTT_TEST_URL=${redactUrl(url)} is not accepting MQTT connections: ${errorMessage(err)}`);
  }
  const cannot = (what: string) => async (): Promise<void> => {
    throw new Error(`TestBroker(${name}): cannot ${what} an external broker (MQTT_TEST_URL); guard the test with it.skipIf(!broker.canRestart)`);
  };
  return {
    url,
    port,
    strategy: 'external',
    canRestart: false,
    stop: async () => {},
    kill: cannot('kill'),
    restart: cannot('restart'),
    readLog: async () => '',
  };
}

// ---------------------------------------------------------------------------------------------------------------
// (b) testcontainers
// ---------------------------------------------------------------------------------------------------------------

const liveContainers = new Map<string, ContainerRuntimeClient>();

async function startContainer(name: string, client: ContainerRuntimeClient): Promise<TestBroker> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const port = await freePort();
  // set_tcp_nodelay as a production broker should have it: no 40 ms Nagle stalls on small packets.
  const config = ['listener 1883', 'allow_anonymous true', 'persistence false', 'set_tcp_nodelay true', 'log_dest stdout', ''].join('\n');
  const started = await new GenericContainer(MOSQUITTO_IMAGE)
    .withExposedPorts({ container: 1883, host: port })
    .withCopyContentToContainer([{ content: config, target: '/mosquitto/config/mosquitto.conf' }])
    .withWaitStrategy(Wait.forLogMessage(/mosquitto version .* running/))
    .withStartupTimeout(60_000)
    .start();
  const id = started.getId();
  liveContainers.set(id, client);
  ensureExitHooks();

  const rawHost = started.getHost();
  const host = rawHost === 'localhost' ? '127.0.0.1' : rawHost;
  const mappedPort = started.getMappedPort(1883);
  const url = `mqtt://${host}:${mappedPort}`;
  const container = client.container.getById(id);
  let stopped = false;

  const readLog = async (): Promise<string> => {
    try {
      // dockerode directly: testcontainers' logs() always follows (never ends while the container runs).
      const raw = await container.logs({ follow: false, stdout: true, stderr: true });
      return demuxDockerLog(raw);
    } catch (err) {
      return `<could not read container logs: ${errorMessage(err)}>`;
    }
  };

  const ready = async (): Promise<void> => {
    try {
      await waitForMqtt(url, READY_TIMEOUT_MS);
    } catch (err) {
      throw new Error(`TestBroker(${name}): container ${id.slice(0, 12)} did not accept MQTT on ${url} within ${READY_TIMEOUT_MS} ms: ${errorMessage(err)}\n--- broker log ---\n${await readLog()}`);
    }
  };

  try {
    await ready();
  } catch (err) {
    await container.remove({ force: true, v: true }).catch(() => undefined);
    liveContainers.delete(id);
    throw err;
  }

  return {
    url,
    port: mappedPort,
    strategy: 'testcontainers',
    canRestart: true,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      liveContainers.delete(id);
      await container.remove({ force: true, v: true }).catch(() => undefined);
    },
    kill: async () => {
      if (stopped) throw new Error(`TestBroker(${name}): kill() after stop()`);
      await container.kill({ signal: 'SIGKILL' }).catch((err: unknown) => {
        // 409 = not running (already killed): kill() is then a no-op.
        if (!(isObject(err) && err.statusCode === 409)) throw err;
      });
    },
    restart: async () => {
      if (stopped) throw new Error(`TestBroker(${name}): restart() after stop()`);
      const state = await client.container.inspect(container);
      if (state.State.Running) await container.kill({ signal: 'SIGKILL' }); // restart of a running broker = kill + start
      await client.container.start(container); // Docker keeps the fixed host port binding
      await ready();
    },
    readLog,
  };
}

/** Docker's non-TTY log format: frames of [stream(1) 0 0 0 size(4, BE)] + payload. */
function demuxDockerLog(raw: Buffer): string {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= raw.length) {
    const type = raw[offset];
    const size = raw.readUInt32BE(offset + 4);
    if ((type !== 0 && type !== 1 && type !== 2) || raw[offset + 1] !== 0 || offset + 8 + size > raw.length) {
      return raw.toString('utf8'); // not multiplexed (TTY container); return as-is
    }
    parts.push(raw.subarray(offset + 8, offset + 8 + size));
    offset += 8 + size;
  }
  return offset === raw.length ? Buffer.concat(parts).toString('utf8') : raw.toString('utf8');
}

// ---------------------------------------------------------------------------------------------------------------
// (c) local mosquitto child process
// ---------------------------------------------------------------------------------------------------------------

interface LocalProcess {
  child: ChildProcess;
  pidFile: string;
  exited: Promise<void>;
}

const liveLocal = new Set<LocalProcess>();
let runRoot: string | undefined;
let watchdogPid: number | undefined;

/** Per-process temp root: <tmp>/evse-test-brokers-<pid>-XXXX/{pids/, <name>-<port>/}. Removed on exit. */
function getRunRoot(): string {
  if (runRoot === undefined) {
    runRoot = mkdtempSync(join(tmpdir(), `evse-test-brokers-${process.pid}-`));
    mkdirSync(join(runRoot, 'pids'));
    startWatchdog(runRoot);
  }
  return runRoot;
}

/**
 * A detached shell that outlives us only to SIGKILL our brokers if this process dies without running its
 * exit hooks (e.g. SIGKILLed by the test runner after a hang). Polls our pid once a second.
 */
function startWatchdog(root: string): void {
  const script = [
    'while kill -0 "$1" 2>/dev/null; do sleep 1; done',
    'for f in "$2"/pids/*.pid; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null; done',
    'rm -rf "$2"',
  ].join('\n');
  try {
    const wd = spawn('/bin/sh', ['-c', script, 'evse-broker-watchdog', String(process.pid), root], { detached: true, stdio: 'ignore' });
    wd.on('error', () => undefined);
    wd.unref();
    watchdogPid = wd.pid;
  } catch {
    // No /bin/sh: the exit/signal hooks below still clean up in all but the SIGKILL case.
  }
}

async function startLocal(name: string, bin: string): Promise<TestBroker> {
  const root = getRunRoot();
  ensureExitHooks();
  // freePort() can race with other workers grabbing the same port; retry with a fresh one on bind failure.
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const dir = join(root, `${name}-${port}`);
    mkdirSync(dir, { recursive: true });
    const configPath = join(dir, 'mosquitto.conf');
    const logPath = join(dir, 'broker.log');
    writeFileSync(
      configPath,
      [`# generated by test/support/broker.ts for ${name}`, `listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', 'set_tcp_nodelay true', 'log_dest stderr', ''].join('\n'),
    );
    const url = `mqtt://127.0.0.1:${port}`;
    const ctx: LocalContext = { name, bin, port, url, configPath, logPath, dir, current: undefined };
    try {
      await launchLocal(ctx);
      return makeLocalBroker(ctx);
    } catch (err) {
      lastError = err;
      rmSync(dir, { recursive: true, force: true });
      if (!/address already in use/i.test(errorMessage(err))) break;
    }
  }
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}

interface LocalContext {
  name: string;
  bin: string;
  port: number;
  url: string;
  configPath: string;
  logPath: string;
  dir: string;
  current: LocalProcess | undefined;
}

function readLocalLog(ctx: LocalContext): string {
  try {
    return readFileSync(ctx.logPath, 'utf8');
  } catch {
    return '<no broker log>';
  }
}

/** Spawn mosquitto for ctx and resolve once it accepts a real MQTT connection (≤ 5 s). */
async function launchLocal(ctx: LocalContext): Promise<void> {
  const logFd = openSync(ctx.logPath, 'a');
  writeSync(logFd, `--- ${new Date().toISOString()} starting ${ctx.bin} -c ${ctx.configPath} ---\n`);
  let child: ChildProcess;
  try {
    child = spawn(ctx.bin, ['-c', ctx.configPath], { stdio: ['ignore', logFd, logFd] });
  } finally {
    closeSync(logFd); // the child has its own copy
  }
  const pidFile = join(getRunRoot(), 'pids', `${ctx.port}-${child.pid ?? 'nopid'}.pid`);
  let spawnError: Error | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('error', (err) => {
      spawnError = err;
      resolve();
    });
    child.once('exit', () => resolve());
  });
  const proc: LocalProcess = { child, pidFile, exited };
  if (child.pid !== undefined) writeFileSync(pidFile, String(child.pid));
  liveLocal.add(proc);
  void exited.then(() => {
    liveLocal.delete(proc);
    rmSync(pidFile, { force: true });
  });
  ctx.current = proc;

  const fail = async (why: string): Promise<never> => {
    await killLocal(proc);
    throw new Error(`mosquitto (${ctx.name}) on ${ctx.url} ${why}\n  config: ${ctx.configPath}\n--- broker log (${ctx.logPath}) ---\n${readLocalLog(ctx).trimEnd()}`);
  };

  const abort = new AbortController();
  const outcome = await Promise.race([
    waitForMqtt(ctx.url, READY_TIMEOUT_MS, abort.signal).then(
      () => 'ready' as const,
      (err: unknown) => `did not accept MQTT connections within ${READY_TIMEOUT_MS} ms (${errorMessage(err)})`,
    ),
    exited.then(() => 'exited' as const),
  ]);
  abort.abort(); // stop polling the port if the broker died first
  if (outcome === 'exited' || child.exitCode !== null || child.signalCode !== null) {
    if (spawnError) return fail(`could not be spawned: ${spawnError.message}`);
    return fail(`exited during startup (code ${String(child.exitCode)}, signal ${String(child.signalCode)})`);
  }
  if (outcome !== 'ready') return fail(outcome);
}

async function killLocal(proc: LocalProcess): Promise<void> {
  if (proc.child.exitCode === null && proc.child.signalCode === null) {
    try {
      proc.child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  await proc.exited;
}

function makeLocalBroker(ctx: LocalContext): TestBroker {
  let stopped = false;
  let restarting: Promise<void> | undefined;
  return {
    url: ctx.url,
    port: ctx.port,
    strategy: 'local-mosquitto',
    canRestart: true,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await restarting?.catch(() => undefined);
      if (ctx.current) await killLocal(ctx.current);
      ctx.current = undefined;
      rmSync(ctx.dir, { recursive: true, force: true });
    },
    kill: async () => {
      if (stopped) throw new Error(`TestBroker(${ctx.name}): kill() after stop()`);
      if (ctx.current) await killLocal(ctx.current);
    },
    restart: async () => {
      if (stopped) throw new Error(`TestBroker(${ctx.name}): restart() after stop()`);
      if (ctx.current && ctx.current.child.exitCode === null && ctx.current.child.signalCode === null) {
        await killLocal(ctx.current); // restart of a running broker = kill + start
      }
      restarting = launchLocal(ctx);
      try {
        await restarting;
      } finally {
        restarting = undefined;
      }
    },
    readLog: async () => readLocalLog(ctx),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Process-exit clean-up (registered once)
// ---------------------------------------------------------------------------------------------------------------

let exitHooksInstalled = false;

function cleanupSync(): void {
  for (const proc of liveLocal) {
    try {
      proc.child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  liveLocal.clear();
  if (liveContainers.size > 0 && process.env.TESTCONTAINERS_RYUK_DISABLED === 'true') {
    // Ryuk normally reaps our containers when this process dies; without it, remove them best-effort.
    spawnSync('docker', ['rm', '-f', ...liveContainers.keys()], { stdio: 'ignore', timeout: 5000 });
  }
  liveContainers.clear();
  if (runRoot !== undefined) {
    rmSync(runRoot, { recursive: true, force: true });
    runRoot = undefined;
  }
  if (watchdogPid !== undefined) {
    try {
      process.kill(watchdogPid, 'SIGKILL');
    } catch {
      // already gone
    }
    watchdogPid = undefined;
  }
}

function ensureExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.once('exit', cleanupSync);
  // vitest/tinypool end fork workers with SIGTERM, which skips 'exit' handlers. Kill our brokers, then unhook and
  // re-raise so the signal still terminates the process. Re-raising even when other listeners exist matters:
  // signal-exit (loaded via testcontainers' deps) only re-raises when it is the LAST listener, so if we merely
  // stepped aside the worker would linger until tinypool's SIGKILL a second later.
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      cleanupSync();
      process.off(signal, onSignal);
      process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Utilities
// ---------------------------------------------------------------------------------------------------------------

/** Resolve once `url` accepts a real MQTT CONNECT (CONNACK received); retries until `timeoutMs`. */
export async function waitForMqtt(url: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = 'no attempt made';
  while (Date.now() < deadline) {
    if (signal?.aborted) throw new Error('aborted');
    const remaining = deadline - Date.now();
    try {
      await tryMqttConnect(url, Math.max(200, Math.min(2000, remaining)));
      return;
    } catch (err) {
      lastError = errorMessage(err);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no MQTT CONNACK from ${redactUrl(url)}: ${lastError}`);
}

function tryMqttConnect(url: string, connectTimeout: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const client = mqtt.connect(url, {
      clientId: `test-broker-probe-${process.pid}-${Math.random().toString(16).slice(2, 10)}`,
      reconnectPeriod: 0,
      connectTimeout,
      clean: true,
    });
    let settled = false;
    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      client.removeAllListeners();
      client.on('error', () => undefined);
      client.end(true);
      if (err) reject(err);
      else resolve();
    };
    client.once('connect', () => finish());
    client.once('error', (err) => finish(err));
    client.once('close', () => finish(new Error('connection closed before CONNACK')));
  });
}

function sanitizeName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]+/g, '-').slice(0, 40) || 'broker';
}


function safeHomedir(): string | undefined {
  try {
    return homedir();
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
