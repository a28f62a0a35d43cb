// API load for bench:soak: the HTTP API and our MQTT request topics driven at a fixed rate with a mix
// of reads, writes and hostile requests, every answer counted by class. The writes change priorities
// and the budget, so the scheduler and the enforcer work while the load runs.
import type { MqttClient } from 'mqtt';
import { MAX_PAGE_LIMIT } from '../../src/api/http/schemas/pagination.js';

export interface LoadCounts {
  sent: number;
  /** HTTP: status class ('2xx', '4xx', '5xx', 'error'); MQTT: 'answered'. */
  byClass: Record<string, number>;
  latenciesMs: number[];
  /** The first few requests answered 5xx or not at all, for the report. */
  failures: string[];
}

const wide = (n: number, nameLength: number): string => `{${Array.from({ length: n }, (_, i) => `"${`f${i}_`.padEnd(nameLength, 'x')}":1`).join(',')}}`;
const deep = (n: number): string => '{"a":'.repeat(n) + '1' + '}'.repeat(n);

/** Deterministic picks: the same run twice sends the same requests. */
function counter(): () => number {
  let n = 0;
  return () => n++;
}

interface HttpRequest {
  method: string;
  path: string;
  body?: string;
}

function httpMix(evses: number): (i: number) => HttpRequest {
  const hostile = [wide(8_557, 4), wide(255, 240), deep(5_000), '{"__proto__":{"polluted":true},"max_power_w":1}', '{"max_power_w":1e400}'];
  return (i) => {
    const evse = `evse_${(i * 7919) % evses + 1}`;
    switch (i % 10) {
      case 0:
        // The list page by page at the largest page size, as the dashboard reads it.
        return { method: 'GET', path: `/v1/evses?limit=${MAX_PAGE_LIMIT}&offset=${(Math.floor(i / 10) * MAX_PAGE_LIMIT) % Math.max(evses, 1)}` };
      case 1:
        return { method: 'GET', path: `/v1/evses/${evse}` };
      case 2:
        return { method: 'GET', path: '/v1/site' };
      case 3:
        return { method: 'GET', path: '/v1/priorities?limit=100' };
      case 4:
      case 5:
        return { method: 'PUT', path: '/v1/priorities', body: JSON.stringify({ by: 'module', module_id: evse, connector_id: 1, priority: i % 10 === 4 ? 9 : 0 }) };
      case 6:
        // Between 60 % and 100 % of what 1000 cars could draw: pauses and resumes keep happening.
        return { method: 'PUT', path: '/v1/site', body: JSON.stringify({ max_power_w: 4_000_000 + ((i * 104_729) % 3_000_000) }) };
      case 7:
        return { method: 'GET', path: '/metrics' };
      default:
        return { method: 'PUT', path: i % 20 < 10 ? '/v1/priorities' : '/v1/site', body: hostile[i % hostile.length] ?? '{}' };
    }
  };
}

/** Runs until `signal` aborts: `concurrency` workers sharing `ratePerS` requests a second. */
export async function httpLoad(options: { baseUrl: string; token: string; evses: number; ratePerS: number; concurrency: number; signal: AbortSignal }): Promise<LoadCounts> {
  const counts: LoadCounts = { sent: 0, byClass: {}, latenciesMs: [], failures: [] };
  const next = counter();
  const mix = httpMix(options.evses);
  const spacingMs = (1000 * options.concurrency) / options.ratePerS;
  const worker = async (): Promise<void> => {
    while (!options.signal.aborted) {
      const started = performance.now();
      const request = mix(next());
      let kind: string;
      try {
        const response = await fetch(options.baseUrl + request.path, {
          method: request.method,
          headers: { authorization: `Bearer ${options.token}`, ...(request.body === undefined ? {} : { 'content-type': 'application/json' }) },
          ...(request.body === undefined ? {} : { body: request.body }),
          signal: AbortSignal.timeout(30_000),
        });
        const text = await response.text();
        kind = `${Math.floor(response.status / 100)}xx`;
        if (response.status >= 500 && counts.failures.length < 10) counts.failures.push(`${request.method} ${request.path} -> ${response.status} ${text.slice(0, 160)}`);
      } catch (err) {
        kind = 'error';
        if (counts.failures.length < 10) counts.failures.push(`${request.method} ${request.path} -> ${(err as Error).message}`);
      }
      const took = performance.now() - started;
      counts.sent += 1;
      counts.byClass[kind] = (counts.byClass[kind] ?? 0) + 1;
      counts.latenciesMs.push(took);
      const wait = spacingMs - took;
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  return counts;
}

/** Requests on our MQTT topics at `ratePerS`, valid ones with a transaction to count the answers, hostile ones among them. */
export async function mqttApiLoad(options: { client: MqttClient; namespace: string; evses: number; ratePerS: number; signal: AbortSignal }): Promise<LoadCounts> {
  const { client, namespace } = options;
  const counts: LoadCounts = { sent: 0, byClass: {}, latenciesMs: [], failures: [] };
  const pending = new Map<string, number>();
  client.on('message', (topic, payload) => {
    if (!topic.startsWith(`${namespace}/response/`)) return;
    const match = /"transaction":"(soak-\d+)"/.exec(payload.toString('utf8'));
    const sentAt = match ? pending.get(match[1] ?? '') : undefined;
    if (sentAt === undefined || match === null) return;
    pending.delete(match[1] ?? '');
    counts.byClass.answered = (counts.byClass.answered ?? 0) + 1;
    counts.latenciesMs.push(performance.now() - sentAt);
  });
  await client.subscribeAsync(`${namespace}/response/#`);
  const next = counter();
  const spacingMs = 1000 / options.ratePerS;
  while (!options.signal.aborted) {
    const i = next();
    const transaction = `soak-${i}`;
    const evse = `evse_${(i * 7907) % options.evses + 1}`;
    let name: string;
    let payload: string;
    switch (i % 8) {
      case 0:
      case 1:
        [name, payload] = ['priority/set', JSON.stringify({ by: 'module', module_id: evse, connector_id: 1, priority: i % 3, transaction })];
        break;
      case 2:
        [name, payload] = ['site/set', JSON.stringify({ max_power_w: 4_000_000 + ((i * 15_485_863) % 3_000_000), transaction })];
        break;
      case 3:
        [name, payload] = ['priority/delete', JSON.stringify({ by: 'module', module_id: evse, connector_id: 1, transaction })];
        break;
      case 4:
        [name, payload] = [['__proto__', 'constructor', 'toString'][i % 3] ?? '__proto__', '{}'];
        break;
      case 5:
        [name, payload] = ['priority/set', `{"transaction":${deep(5_000)}}`];
        break;
      case 6:
        // The connector 99999 that once reached EVerest as force_unlock 99999: refused, counted as answered.
        [name, payload] = ['action', JSON.stringify({ module_id: evse, connector_id: 99_999, type: 'unlock', transaction })];
        break;
      default:
        [name, payload] = ['site/set', `{"max_power_w":"lots","transaction":"${transaction}","junk":"${'x'.repeat(20_000)}"}`];
    }
    if (payload.includes(`"${transaction}"`)) pending.set(transaction, performance.now());
    client.publish(`${namespace}/request/${name}`, payload);
    counts.sent += 1;
    await new Promise((resolve) => setTimeout(resolve, spacingMs));
  }
  counts.byClass.unanswered = pending.size;
  return counts;
}
