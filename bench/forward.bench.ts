// npm run bench:forward — the forwarder against the fake cloud on loopback: 1000 EVSEs, MeterValues
// every 10 s each and one session event per second across the site. Prints event-to-2xx latency
// p50/p99, sustained requests/s, the outbox's fsync cost per event next to a bare fsync'd append
// measured in the same run, and the catch-up time of a 10-minute backlog.
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { EvseConfig } from '../src/config/types.js';
import { Forwarder } from '../src/forwarding/forwarder.js';
import { meterValuesBody } from '../src/forwarding/mapping.js';
import type { ForwardingMetrics } from '../src/forwarding/metrics.js';
import type { OcppKind } from '../src/forwarding/ocpp-schemas.js';
import { Outbox, type NewEntry } from '../src/forwarding/outbox.js';
import { aPowermeter, aSessionEvent } from '../test/support/builders/everest.js';
import { DrivenStreams } from '../test/support/everest-streams.js';
import { FakeCloud } from '../test/support/fake-cloud.js';

const EVSES = 1000;
const METER_INTERVAL_S = 10;
const STEADY_S = Number(process.env.BENCH_STEADY_S ?? 30);
const BACKLOG_MIN = 10;
const logger = pino({ level: 'warn' });

class Latencies implements ForwardingMetrics {
  readonly ms: Record<OcppKind, number[]> = { TransactionEvent: [], MeterValues: [] };
  failures = 0;
  delivered(kind: OcppKind, _status: number, latencyMs: number) {
    this.ms[kind].push(latencyMs);
  }
  failed() {
    this.failures += 1;
  }
  deadLettered() {}
  dropped() {}
  queueProbe() {}
}

function pct(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

const evses: EvseConfig[] = Array.from({ length: EVSES }, (_, i) => ({ module_id: `evse_${i + 1}`, connectors: [1], phases: 3 }));

function forwardingConfig(cloud: FakeCloud) {
  return {
    url: cloud.url,
    token_url: cloud.tokenUrl,
    client_id: cloud.clientId,
    client_secret: cloud.clientSecret,
    api_key: cloud.apiKey,
    meter_interval_s: METER_INTERVAL_S,
    max_queue_mb: 200,
  };
}

/** Steady state: every EVSE in a transaction, meter values every 10 s each, one session event a second. */
async function steady(cloud: FakeCloud): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-forward-'));
  const streams = new DrivenStreams();
  const metrics = new Latencies();
  const forwarder = await Forwarder.start({ streams, evses, config: forwardingConfig(cloud), dir, logger, metrics });
  // Transactions open over one meter interval, so meter values spread evenly (as real arrivals would).
  for (let i = 0; i < EVSES; i++) {
    const id = `evse_${i + 1}`;
    streams.emit(id, 'powermeter', aPowermeter({ timestamp: new Date().toISOString() }));
    streams.emit(id, 'session_event', aSessionEvent('TransactionStarted', { uuid: `tx-${id}`, timestamp: new Date().toISOString() }));
    streams.emit(id, 'session_event', aSessionEvent('ChargingStarted', { uuid: `tx-${id}`, timestamp: new Date().toISOString() }));
    if (i % 100 === 99) await new Promise((resolve) => setTimeout(resolve, (METER_INTERVAL_S * 1000) / 10));
  }
  await waitDrained(forwarder, 60_000);
  metrics.ms.TransactionEvent.length = 0;
  metrics.ms.MeterValues.length = 0;
  const before = cloud.received.length;
  const t0 = Date.now();
  let n = 0;
  const events = setInterval(() => {
    const id = `evse_${(n % EVSES) + 1}`;
    const kind = Math.floor(n / EVSES) % 2 === 0 ? 'ChargingPausedEV' : 'ChargingResumed';
    streams.emit(id, 'session_event', aSessionEvent(kind, { uuid: `tx-${id}`, timestamp: new Date().toISOString() }));
    n += 1;
  }, 1000);
  await new Promise((resolve) => setTimeout(resolve, STEADY_S * 1000));
  clearInterval(events);
  const seconds = (Date.now() - t0) / 1000;
  const requests = cloud.received.length - before;
  await forwarder.stop();
  rmSync(dir, { recursive: true, force: true });
  const te = metrics.ms.TransactionEvent;
  const mv = metrics.ms.MeterValues;
  console.log(`steady state, ${EVSES} EVSEs, MeterValues every ${METER_INTERVAL_S} s, 1 session event/s, ${seconds.toFixed(0)} s:`);
  console.log(`  event-to-2xx latency TransactionEvent: p50 ${pct(te, 50).toFixed(1)} ms, p99 ${pct(te, 99).toFixed(1)} ms (n=${te.length}; target p99 <= 1000 ms)`);
  console.log(`  event-to-2xx latency MeterValues:      p50 ${pct(mv, 50).toFixed(1)} ms, p99 ${pct(mv, 99).toFixed(1)} ms (n=${mv.length})`);
  console.log(`  sustained: ${(requests / seconds).toFixed(1)} requests/s accepted (offered: ${(EVSES / METER_INTERVAL_S + 1).toFixed(0)}/s), failures ${metrics.failures}`);
}

async function waitDrained(forwarder: Forwarder, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  while (forwarder.status.queued > 0) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`not drained after ${timeoutMs} ms: ${forwarder.status.queued} queued`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return Date.now() - t0;
}

const sampleBody = JSON.stringify(meterValuesBody(1, aPowermeter(), undefined, Date.now()));

/** fsync cost per event: the outbox (one event per append, and ten per append as group commit gives) against a bare fsync'd append. */
async function fsyncCost(): Promise<void> {
  const N = 1000;
  const dir = mkdtempSync(join(tmpdir(), 'bench-fsync-'));
  const fd = openSync(join(dir, 'bare.log'), 'a');
  const line = `${sampleBody}\n`;
  let t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    writeSync(fd, line);
    fdatasyncSync(fd);
  }
  const bareUs = Number(process.hrtime.bigint() - t0) / 1000 / N;
  closeSync(fd);
  const { outbox } = await Outbox.open({ dir: join(dir, 'outbox'), maxBytes: 200 << 20, logger });
  const entry = (): NewEntry => ({ station: 'CP-1', kind: 'MeterValues', createdAt: Date.now(), body: sampleBody });
  t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) await outbox.append([entry()], undefined);
  const singleUs = Number(process.hrtime.bigint() - t0) / 1000 / N;
  t0 = process.hrtime.bigint();
  for (let i = 0; i < N / 10; i++) await outbox.append(Array.from({ length: 10 }, entry), undefined);
  const groupUs = Number(process.hrtime.bigint() - t0) / 1000 / N;
  await outbox.close();
  rmSync(dir, { recursive: true, force: true });
  console.log(`outbox fsync cost per event (${N} events of ${sampleBody.length} B):`);
  console.log(`  baseline, bare write + fdatasync per line: ${bareUs.toFixed(0)} us`);
  console.log(`  outbox, one event per append:              ${singleUs.toFixed(0)} us (${(singleUs / bareUs).toFixed(2)}x baseline)`);
  console.log(`  outbox, ten events per append (group):     ${groupUs.toFixed(0)} us (${(groupUs / bareUs).toFixed(2)}x baseline)`);
}

/** A 10-minute outage's backlog (meter values of every EVSE, one session event a second), then the cloud returns. */
async function catchUp(cloud: FakeCloud): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-backlog-'));
  const { outbox } = await Outbox.open({ dir: join(dir, 'outbox'), maxBytes: 200 << 20, logger });
  const start = Date.now() - BACKLOG_MIN * 60_000;
  let count = 0;
  for (let s = 0; s < BACKLOG_MIN * 60; s++) {
    const batch: NewEntry[] = [];
    const station = `evse_${(s % EVSES) + 1}`;
    const te = aSessionEvent('ChargingPausedEV', { uuid: `tx-${station}` });
    batch.push({ station, kind: 'TransactionEvent', createdAt: start + s * 1000, body: JSON.stringify({ eventType: 'Updated', timestamp: te.timestamp, triggerReason: 'ChargingStateChanged', seqNo: s, transactionInfo: { transactionId: `tx-${station}`, chargingState: 'SuspendedEV' } }) });
    if (s % METER_INTERVAL_S === 0) {
      for (let i = 0; i < EVSES; i++) batch.push({ station: `evse_${i + 1}`, kind: 'MeterValues', createdAt: start + s * 1000, body: sampleBody });
    }
    count += batch.length;
    await outbox.append(batch, undefined);
  }
  await outbox.close();
  const before = cloud.received.length;
  const t0 = Date.now();
  const forwarder = await Forwarder.start({ streams: new DrivenStreams(), evses, config: forwardingConfig(cloud), dir, logger });
  const ms = await waitDrained(forwarder, 600_000);
  const total = Date.now() - t0;
  await forwarder.stop();
  rmSync(dir, { recursive: true, force: true });
  console.log(`catch-up of a ${BACKLOG_MIN}-minute backlog (${count} events on disk):`);
  console.log(`  ${(total / 1000).toFixed(1)} s from start to empty queue (${(ms / 1000).toFixed(1)} s draining), ${((cloud.received.length - before) / (total / 1000)).toFixed(0)} requests/s`);
}

const cloud = await new FakeCloud().start();
try {
  console.log(`bench:forward (node ${process.version}, fake cloud on loopback, default tuning: 8 requests in flight)`);
  await fsyncCost();
  await steady(cloud);
  await catchUp(cloud);
} finally {
  await cloud.stop();
}
