import { asyncScheduler, type SchedulerLike, type Subscription } from 'rxjs';
import { backoffDelay } from '../transport/backoff.js';
import type { Logger } from '../log/logger.js';
import type { ForwardingMetrics } from './metrics.js';
import { TokenError, type TokenSource } from './oauth.js';
import type { OcppKind } from './ocpp-schemas.js';
import { appendDurably, type Outbox, type OutboxEntry } from './outbox.js';
import type { ForwardingState } from './status.js';

export interface DeliveryOptions {
  outbox: Outbox;
  /** forwarding.url without a trailing slash. */
  baseUrl: string;
  apiKey: string;
  tokens: TokenSource;
  deadLetterPath: string;
  logger: Logger;
  metrics: ForwardingMetrics;
  /** Requests in flight across all stations; each station has at most one. */
  maxInFlight: number;
  requestTimeoutMs: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  random?: () => number;
  /** Clock and timers of the backoff; the clock also stamps latency. */
  scheduler?: SchedulerLike;
  onState?: (state: ForwardingState) => void;
}

/** Answers that say the body itself is wrong: retrying the same bytes cannot succeed. */
const DEAD_LETTER_STATUS: ReadonlySet<number> = new Set([400, 413, 422]);
/** How much of the cloud's answer a dead letter keeps. */
const ANSWER_MAX_CHARS = 4096;

type Outcome =
  | { type: 'delivered'; status: number }
  | { type: 'dead-letter'; status: number; answer: string }
  | { type: 'unauthorized'; status: number | 'token'; detail: string }
  | { type: 'retry'; status: number | 'network'; detail: string };

/** The cloud's path for one message; `{uid}` is the station. */
export function eventPath(station: string, kind: OcppKind): string {
  // Seed 002 writes TransactionEvent with a trailing slash and MeterValues without.
  const tail = kind === 'TransactionEvent' ? 'TransactionEvent/' : 'MeterValues';
  return `/v1/scsp/chargingstations/${encodeURIComponent(station)}/events/ocpp2.0.1/${tail}`;
}

/**
 * Sends the outbox: per station strictly in order with one request in flight, stations in
 * parallel up to maxInFlight; retries with backoff and jitter; a 2xx (or a dead letter) is the
 * only thing that removes an event.
 */
export class Delivery {
  private readonly ready = new Set<string>();
  private readonly busy = new Set<string>();
  private readonly waiting = new Map<string, Subscription>();
  private readonly attempts = new Map<string, number>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private readonly random: () => number;
  private readonly scheduler: SchedulerLike;
  private current: ForwardingState = 'delivering';
  private stopped = false;

  constructor(private readonly options: DeliveryOptions) {
    this.random = options.random ?? Math.random;
    this.scheduler = options.scheduler ?? asyncScheduler;
  }

  get state(): ForwardingState {
    return this.current;
  }

  /** New entries are on disk for these stations (or, without an argument, for any station). */
  kick(stations: Iterable<string> = this.options.outbox.stations()): void {
    if (this.stopped) return;
    for (const station of stations) if (!this.busy.has(station) && !this.waiting.has(station)) this.ready.add(station);
    this.pump();
  }

  /** Aborts what is in flight (it stays in the outbox and goes again after a restart) and waits for it. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort(new Error('forwarding stopped'));
    for (const timer of this.waiting.values()) timer.unsubscribe();
    this.waiting.clear();
    this.ready.clear();
    await Promise.allSettled([...this.inFlight]);
  }

  private pump(): void {
    while (!this.stopped && this.inFlight.size < this.options.maxInFlight && this.ready.size > 0) {
      const station = this.ready.values().next().value as string;
      this.ready.delete(station);
      const entry = this.options.outbox.head(station);
      if (!entry) continue;
      this.busy.add(station);
      const run = this.deliver(entry).finally(() => {
        this.inFlight.delete(run);
        this.busy.delete(station);
        if (!this.waiting.has(station) && this.options.outbox.head(station)) this.ready.add(station);
        this.pump();
      });
      this.inFlight.add(run);
    }
  }

  private async deliver(entry: OutboxEntry): Promise<void> {
    const outcome = await this.attempt(entry);
    if (this.stopped) return;
    const { metrics, logger, outbox } = this.options;
    switch (outcome.type) {
      case 'delivered':
        outbox.complete(entry);
        metrics.delivered(entry.kind, outcome.status, this.scheduler.now() - entry.createdAt);
        this.attempts.delete(entry.station);
        this.setState('delivering', {});
        return;
      case 'dead-letter': {
        await appendDurably(this.options.deadLetterPath, {
          at: new Date(this.scheduler.now()).toISOString(),
          station: entry.station,
          kind: entry.kind,
          seq: entry.seq,
          status: outcome.status,
          answer: outcome.answer,
          body: JSON.parse(entry.body) as unknown,
        });
        outbox.complete(entry);
        metrics.deadLettered(entry.kind, outcome.status);
        this.attempts.delete(entry.station);
        // A rejected body is an anomaly worth its own line, unlike a delivery.
        logger.warn({ station: entry.station, kind: entry.kind, seq: entry.seq, status: outcome.status, answer: outcome.answer.slice(0, 200) }, 'forwarding: cloud rejected a message; moved to the dead-letter file');
        this.setState('delivering', {});
        return;
      }
      case 'unauthorized':
        metrics.failed(entry.kind, outcome.status === 'token' ? 401 : outcome.status);
        this.setState('unauthorized', { status: outcome.status, detail: outcome.detail });
        this.retryLater(entry.station);
        return;
      case 'retry':
        metrics.failed(entry.kind, outcome.status);
        this.setState('retrying', { status: outcome.status, detail: outcome.detail });
        this.retryLater(entry.station);
        return;
    }
  }

  private retryLater(station: string): void {
    const attempt = (this.attempts.get(station) ?? 0) + 1;
    this.attempts.set(station, attempt);
    const delay = backoffDelay(attempt, { minMs: this.options.backoffMinMs, maxMs: this.options.backoffMaxMs, random: this.random });
    const timer = this.scheduler.schedule(() => {
      this.waiting.delete(station);
      this.kick([station]);
    }, delay);
    this.waiting.set(station, timer);
  }

  /** One delivery attempt: a cached token, and on 401 one retry with a freshly fetched one. */
  private async attempt(entry: OutboxEntry): Promise<Outcome> {
    let token;
    try {
      token = await this.options.tokens.token();
    } catch (err) {
      return tokenOutcome(err);
    }
    let outcome = await this.post(entry, token.value);
    if (outcome.type !== 'unauthorized' || token.fresh) return outcome;
    this.options.tokens.invalidate(token.value);
    try {
      token = await this.options.tokens.token();
    } catch (err) {
      return tokenOutcome(err);
    }
    outcome = await this.post(entry, token.value);
    return outcome;
  }

  private async post(entry: OutboxEntry, token: string): Promise<Outcome> {
    let response: Response;
    try {
      response = await fetch(this.options.baseUrl + eventPath(entry.station, entry.kind), {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ApiKey: this.options.apiKey },
        body: entry.body,
        signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.options.requestTimeoutMs)]),
      });
    } catch (err) {
      return { type: 'retry', status: 'network', detail: describeError(err) };
    }
    let answer: string;
    try {
      answer = await response.text();
    } catch (err) {
      return { type: 'retry', status: 'network', detail: describeError(err) };
    }
    const status = response.status;
    if (status >= 200 && status < 300) return { type: 'delivered', status };
    if (status === 401) return { type: 'unauthorized', status, detail: 'the cloud answered 401' };
    if (DEAD_LETTER_STATUS.has(status)) return { type: 'dead-letter', status, answer: answer.slice(0, ANSWER_MAX_CHARS) };
    return { type: 'retry', status, detail: `HTTP ${status}` };
  }

  private setState(next: ForwardingState, why: { status?: number | 'network' | 'token'; detail?: string }): void {
    if (next === this.current) return;
    const previous = this.current;
    this.current = next;
    const { logger } = this.options;
    if (next === 'unauthorized') {
      logger.error(
        { previous, ...why },
        'forwarding: the cloud refuses even a freshly fetched token; check forwarding.client_id, client_secret, scope and api_key (events stay queued)',
      );
    } else if (next === 'retrying') {
      logger.warn({ previous, ...why }, 'forwarding: cloud unreachable or failing; retrying with backoff (events stay queued)');
    } else {
      logger.info({ previous }, `forwarding: ${next}`);
    }
    this.options.onState?.(next);
  }
}

function tokenOutcome(err: unknown): Outcome {
  if (err instanceof TokenError && err.refused) return { type: 'unauthorized', status: 'token', detail: err.message };
  return { type: 'retry', status: 'network', detail: describeError(err) };
}

function describeError(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  const cause = e.cause?.code ?? e.cause?.message;
  return cause ? `${e.message} (${cause})` : e.message;
}
