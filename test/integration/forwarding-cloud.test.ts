import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SessionEvent } from '../../src/everest/payloads.js';
import { Forwarder } from '../../src/forwarding/forwarder.js';
import type { ForwardingMetrics } from '../../src/forwarding/metrics.js';
import type { ForwardingState } from '../../src/forwarding/status.js';
import { aPowermeter, aSessionEvent } from '../support/builders/everest.js';
import { DrivenStreams } from '../support/everest-streams.js';
import { FakeCloud } from '../support/fake-cloud.js';
import { waitFor } from '../support/wait.js';

class Counting implements ForwardingMetrics {
  readonly counts = new Map<string, number>();
  private bump(key: string) {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }
  delivered(kind: string, status: number) {
    this.bump(`delivered ${kind} ${status}`);
  }
  failed(kind: string, status: number | 'network') {
    this.bump(`failed ${kind} ${status}`);
  }
  deadLettered(kind: string, status: number) {
    this.bump(`dead ${kind} ${status}`);
  }
  dropped(kind: string) {
    this.bump(`dropped ${kind}`);
  }
  queueProbe() {}
}

const lines: { level: number; msg: string }[] = [];
const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as { level: number; msg: string }) });

let cloud: FakeCloud;
let dir: string;
let streams: DrivenStreams;
let metrics: Counting;
let forwarder: Forwarder | undefined;
const states: ForwardingState[] = [];

async function start(meterIntervalS = 300, requestTimeoutMs = 2000): Promise<Forwarder> {
  forwarder = await Forwarder.start({
    streams,
    evses: [
      { module_id: 'evse_1', charge_box_identity: 'CP-1', connectors: [1], phases: 3 },
      { module_id: 'evse_2', station_uid: 'CP-2', connectors: [1], phases: 3 },
    ],
    config: {
      url: cloud.url,
      token_url: cloud.tokenUrl,
      client_id: cloud.clientId,
      client_secret: cloud.clientSecret,
      api_key: cloud.apiKey,
      meter_interval_s: meterIntervalS,
      max_queue_mb: 50,
    },
    dir,
    logger,
    metrics,
    tuning: { backoffMinMs: 50, backoffMaxMs: 200, requestTimeoutMs },
  });
  forwarder.status$.subscribe((s) => states.push(s.state));
  return forwarder;
}

const session = (uuid: string): SessionEvent[] => [
  aSessionEvent('SessionStarted', { uuid }),
  aSessionEvent('TransactionStarted', { uuid }),
  aSessionEvent('ChargingStarted', { uuid }),
  aSessionEvent('ChargingPausedEV', { uuid }),
  aSessionEvent('ChargingResumed', { uuid }),
  aSessionEvent('TransactionFinished', { uuid }),
  aSessionEvent('SessionFinished', { uuid }),
];

const shape = (bodies: Record<string, unknown>[]) => bodies.map((b) => `${String(b.eventType)}#${String(b.seqNo)}`);
const WHOLE = ['Started#0', 'Updated#1', 'Updated#2', 'Updated#3', 'Ended#4'];

beforeEach(async () => {
  cloud = await new FakeCloud().start();
  dir = mkdtempSync(join(tmpdir(), 'forwarding-cloud-'));
  streams = new DrivenStreams();
  metrics = new Counting();
  states.length = 0;
  lines.length = 0;
});

afterEach(async () => {
  await forwarder?.stop();
  forwarder = undefined;
  await cloud.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('forwarding to a seed-002 cloud (real HTTP, fake cloud)', () => {
  it('delivers a whole session in order to the station URL, with Bearer + ApiKey, every body schema-valid', async () => {
    await start();
    for (const e of session('s-1')) streams.emit('evse_1', 'session_event', e);
    await waitFor(() => cloud.transaction('s-1').length === 5, { message: () => `got ${shape(cloud.transaction('s-1')).join(' ')}` });
    expect(shape(cloud.transaction('s-1'))).toEqual(WHOLE);
    expect(cloud.received.every((r) => r.station === 'CP-1')).toBe(true);
    expect(cloud.schemaRejections).toEqual([]);
    expect(cloud.tokensIssued).toBe(1);
    // The cloud records a message before it answers: the 2xx reaches us a moment later.
    await waitFor(() => forwarder?.status.queued === 0);
    expect(metrics.counts.get('delivered TransactionEvent 200')).toBe(5);
  });

  it('sends MeterValues at the interval during a transaction only', async () => {
    await start(1);
    streams.emit('evse_2', 'powermeter', aPowermeter({ energy_Wh_import: { total: 2000 } }));
    streams.emit('evse_2', 'session_event', aSessionEvent('TransactionStarted', { uuid: 'm-1' }));
    streams.emit('evse_2', 'session_event', aSessionEvent('ChargingStarted', { uuid: 'm-1' }));
    await waitFor(() => cloud.received.filter((r) => r.kind === 'MeterValues').length >= 2, { timeoutMs: 5000 });
    streams.emit('evse_2', 'session_event', aSessionEvent('TransactionFinished', { uuid: 'm-1' }));
    await waitFor(() => cloud.transaction('m-1').length === 3);
    const count = cloud.received.filter((r) => r.kind === 'MeterValues').length;
    const meter = cloud.received.find((r) => r.kind === 'MeterValues');
    expect(meter?.station).toBe('CP-2');
    expect(meter?.body).toMatchObject({ evseId: 1, meterValue: [{ sampledValue: [{ measurand: 'Energy.Active.Import.Register', value: 2000 }, { measurand: 'Power.Active.Import' }] }] });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(cloud.received.filter((r) => r.kind === 'MeterValues').length).toBe(count);
  });

  it('rides out 503s and dropped connections with backoff, then delivers everything in order', async () => {
    await start();
    cloud.failWith = 503;
    for (const e of session('s-2').slice(0, 3)) streams.emit('evse_1', 'session_event', e);
    await waitFor(() => (metrics.counts.get('failed TransactionEvent 503') ?? 0) >= 2);
    cloud.failWith = undefined;
    cloud.dropConnections = true;
    for (const e of session('s-2').slice(3)) streams.emit('evse_1', 'session_event', e);
    await waitFor(() => (metrics.counts.get('failed TransactionEvent network') ?? 0) >= 2);
    expect(forwarder?.status).toMatchObject({ state: 'retrying', queued: 5 });
    cloud.dropConnections = false;
    await waitFor(() => cloud.transaction('s-2').length === 5, { timeoutMs: 5000 });
    expect(shape(cloud.transaction('s-2'))).toEqual(WHOLE);
    expect(states).toContain('retrying');
    await waitFor(() => forwarder?.status.state === 'delivering');
    // One line per state change, not one per failed attempt.
    expect(lines.filter((l) => l.msg.includes('retrying with backoff')).length).toBe(1);
  });

  it('dead-letters a message the cloud rejects with 400, with its answer, and delivers the rest', async () => {
    await start();
    cloud.rejectBody = (kind, body) => kind === 'TransactionEvent' && body.seqNo === 2;
    for (const e of session('s-3')) streams.emit('evse_1', 'session_event', e);
    await waitFor(() => cloud.transaction('s-3').length === 4);
    expect(shape(cloud.transaction('s-3'))).toEqual(['Started#0', 'Updated#1', 'Updated#3', 'Ended#4']);
    const dead = readFileSync(join(dir, 'dead-letter.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ station: 'CP-1', kind: 'TransactionEvent', status: 400, body: { seqNo: 2 } });
    expect(String(dead[0]?.answer)).toContain('rejected by the platform');
    await waitFor(() => forwarder?.status.queued === 0);
    expect(metrics.counts.get('dead TransactionEvent 400')).toBe(1);
  });

  it('on a 401 fetches a fresh token once and retries the same request (token expired server-side)', async () => {
    await start();
    streams.emit('evse_1', 'session_event', aSessionEvent('TransactionStarted', { uuid: 't-1' }));
    await waitFor(() => cloud.transaction('t-1').length === 1);
    cloud.expireTokens();
    streams.emit('evse_1', 'session_event', aSessionEvent('ChargingStarted', { uuid: 't-1' }));
    await waitFor(() => cloud.transaction('t-1').length === 2);
    expect(cloud.tokensIssued).toBe(2);
    expect(cloud.answers.map((a) => a.status)).toEqual([200, 401, 200]);
    expect(states).not.toContain('unauthorized');
  });

  it('renews a token shortly before it expires, without a 401', async () => {
    cloud.tokenLifetimeS = 1;
    await start();
    streams.emit('evse_1', 'session_event', aSessionEvent('TransactionStarted', { uuid: 't-2' }));
    await waitFor(() => cloud.transaction('t-2').length === 1);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    streams.emit('evse_1', 'session_event', aSessionEvent('ChargingStarted', { uuid: 't-2' }));
    await waitFor(() => cloud.transaction('t-2').length === 2);
    expect(cloud.tokensIssued).toBe(2);
    expect(cloud.answers.every((a) => a.status === 200)).toBe(true);
  });

  it('reports a revoked client loudly (401 even with a fresh token), keeps the events, and delivers them once it is readmitted', async () => {
    await start();
    cloud.revoked = true;
    for (const e of session('r-1').slice(0, 3)) streams.emit('evse_1', 'session_event', e);
    await waitFor(() => forwarder?.status.state === 'unauthorized');
    const loud = lines.filter((l) => l.level >= 50 && l.msg.includes('refuses even a freshly fetched token'));
    expect(loud).toHaveLength(1);
    expect(forwarder?.status.queued).toBe(2);
    cloud.revoked = false;
    await waitFor(() => cloud.transaction('r-1').length === 2, { timeoutMs: 5000 });
    expect(shape(cloud.transaction('r-1'))).toEqual(['Started#0', 'Updated#1']);
    // The log never carries the secrets.
    const text = JSON.stringify(lines);
    expect(text).not.toContain(cloud.clientSecret);
    expect(text).not.toContain(cloud.apiKey);
  });

  it('waits out a slow cloud: a request that times out is sent again, nothing is lost or reordered', async () => {
    await start(300, 150);
    cloud.delayMs = 300;
    for (const e of session('slow')) streams.emit('evse_1', 'session_event', e);
    await waitFor(() => (metrics.counts.get('failed TransactionEvent network') ?? 0) >= 1, { timeoutMs: 5000 });
    cloud.delayMs = 20;
    await waitFor(() => forwarder?.status.queued === 0, { timeoutMs: 10_000 });
    // The cloud still processes a request we gave up on, late: that one (and only that one) arrives
    // twice; in order of first arrival everything is there and in order.
    const seqs = cloud.transaction('slow').map((b) => b.seqNo as number);
    expect([...new Set(seqs)]).toEqual([0, 1, 2, 3, 4]);
    expect(seqs.length - new Set(seqs).size).toBeLessThanOrEqual(1);
  });
});
