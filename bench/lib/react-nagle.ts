// Diagnostic for the reaction benchmark's tails (not part of `npm run bench:react`): the same rounds with
// Nagle's algorithm switched off at chosen places, to show which TCP connections the 40 ms stalls sit on.
//   npx tsx bench/lib/react-nagle.ts <mode> [rounds]
//   default  as in the benchmark: sockets as the code leaves them (mqtt.js and Mosquitto leave Nagle on)
//   module   TCP_NODELAY on the module's own connection as well
//   clients  TCP_NODELAY on every mqtt.js connection in this process: module, simulated EVerest, test clients
//   broker   Mosquitto with set_tcp_nodelay true, clients as in default
//   all      clients and broker
// broker/all start a private Mosquitto with that option on a free loopback port (startBroker cannot take
// options); the others use startBroker like the benchmark.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startBroker, waitForMqtt } from '../../test/support/broker.js';
import { freePort } from '../../test/support/ports.js';
import { ReactSite, TRIAL_LABELS, type TrialKind, type TrialResult } from './react-site.js';
import { openWire } from './react-wire.js';
import { printTable, summarize } from './stats.js';

const MODES = ['default', 'module', 'clients', 'broker', 'all'] as const;
type Mode = (typeof MODES)[number];

async function privateNoDelayBroker(): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'react-nagle-'));
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', 'set_tcp_nodelay true', ''].join('\n'));
  const child = spawn('mosquitto', ['-c', conf], { stdio: 'ignore' });
  const url = `mqtt://127.0.0.1:${port}`;
  await waitForMqtt(url, 5000);
  return {
    url,
    async stop() {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function noDelayForEveryClientSocket(): void {
  // mqtt.js opens its TCP connection without options, so the default has to change at the socket itself.
  const connect = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]): net.Socket {
    this.setNoDelay(true);
    return (connect as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof connect;
}

async function main(): Promise<void> {
  const mode = (process.argv[2] ?? 'default') as Mode;
  if (!MODES.includes(mode)) throw new Error(`mode must be one of ${MODES.join(', ')}`);
  const rounds = Number(process.argv[3] ?? 60);
  const warmup = 5;
  if (mode === 'clients' || mode === 'all') noDelayForEveryClientSocket();
  process.env.MQTT_TEST_STRATEGY ??= 'local';
  const broker = mode === 'broker' || mode === 'all' ? await privateNoDelayBroker() : await startBroker({ name: 'react-nagle' });
  const wire = await openWire(broker.url);
  const site = await ReactSite.open(broker.url, wire, { settleMs: 50, infoSettleMs: 10, jitterMs: 250, shortJitterMs: 20, commandTimeoutMs: 3000, steadyTimeoutMs: 5000 });
  if (mode === 'module') (site.stack.app.module.transport['client'].stream as unknown as net.Socket).setNoDelay(true);
  const results = new Map<TrialKind, TrialResult[]>();
  const keep = (r: TrialResult, measured: boolean): void => {
    if (measured && r.expected) results.set(r.kind, [...(results.get(r.kind) ?? []), r]);
  };
  const started = performance.now();
  try {
    for (let i = 0; i < warmup + rounds; i++) {
      const measured = i >= warmup;
      keep(await site.budgetDrop(), measured);
      keep(await site.newSession(), measured);
      keep(await site.priorityRaise(), measured);
      await site.unplugThird();
      keep(await site.budgetRaise(), measured);
    }
  } finally {
    await site.close();
    await wire.close();
    await broker.stop();
  }
  printTable(
    `reaction, ${mode === 'default' ? 'sockets as the code leaves them' : `TCP_NODELAY added: ${mode}`}, ${rounds} rounds, ${((performance.now() - started) / 1000).toFixed(0)} s (ms)`,
    [...results].map(([kind, rs]) => {
      const s = summarize(rs.map((r) => r.totalMs));
      const stalled = (stage: 'hopIn' | 'input' | 'decide' | 'hopOut'): number => rs.filter((r) => (r.stages?.[stage] ?? 0) > 20).length;
      return {
        trigger: TRIAL_LABELS[kind],
        n: s.n,
        p50: s.p50.toFixed(2),
        p90: s.p90.toFixed(2),
        p99: s.p99.toFixed(2),
        max: s.max.toFixed(2),
        '>20 ms in/input/out': `${stalled('hopIn')}/${stalled('input')}/${stalled('hopOut')}`,
      };
    }),
  );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
