import { createHmac } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Observable, Subscription } from 'rxjs';
import type { WebhookConfig } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import { splitCredentials } from '../log/redact.js';
import { FREQUENT_EVENT_TYPES, type ApiEvent } from './events.js';

export const SIGNATURE_HEADER = 'X-EVSE-Priority-Signature';
export const TIMESTAMP_HEADER = 'X-EVSE-Priority-Timestamp';
export const EVENT_HEADER = 'X-EVSE-Priority-Event';
export const DELIVERY_HEADER = 'X-EVSE-Priority-Delivery';

/** `sha256=<hex HMAC-SHA256 of the raw body>`, the value of X-EVSE-Priority-Signature. */
export function signBody(body: string | Buffer, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export interface WebhookDeliveryOptions {
  /** Tries per event, the first included (default 3). */
  attempts?: number;
  /** Wait before the second try; doubles for every further one (default 500 ms). */
  backoffMs?: number;
  /** Events waiting per webhook; the oldest is dropped beyond this (default 1000). */
  maxQueue?: number;
  /** Per-request timeout (default 5000 ms). */
  timeoutMs?: number;
}

export interface WebhookStats {
  delivered: number;
  failed: number;
  dropped: number;
  queued: number;
}

/** What may be logged of a webhook URL: paths and queries often carry secrets of their own. */
function label(index: number, url: string): string {
  try {
    return `#${index} ${new URL(url).origin}`;
  } catch {
    return `#${index}`;
  }
}

class WebhookTarget {
  readonly stats: WebhookStats = { delivered: 0, failed: 0, dropped: 0, queued: 0 };
  private readonly queue: ApiEvent[] = [];
  private running = false;
  private readonly wanted: ReadonlySet<string> | undefined;
  /** The URL fetch is given, and the Basic credentials its userinfo held: fetch refuses a URL with credentials. */
  private readonly target: { url: string; authorization?: string };

  constructor(
    private readonly config: WebhookConfig,
    private readonly name: string,
    private readonly options: Required<WebhookDeliveryOptions>,
    private readonly log: Logger,
    private readonly closing: AbortSignal,
  ) {
    this.wanted = config.events && config.events.length > 0 ? new Set(config.events) : undefined;
    const { url, username, password } = splitCredentials(config.url);
    this.target = username === undefined ? { url } : { url, authorization: `Basic ${Buffer.from(`${username}:${password ?? ''}`).toString('base64')}` };
  }

  /** Called from the event subscription: never waits, never throws. */
  offer(event: ApiEvent): void {
    if (this.wanted ? !this.wanted.has(event.type) : FREQUENT_EVENT_TYPES.has(event.type)) return;
    if (this.queue.length >= this.options.maxQueue) {
      this.queue.shift();
      this.stats.dropped += 1;
      // One line per hundred drops: a dead receiver must not flood the log as well.
      if (this.stats.dropped % 100 === 1) {
        this.log.warn({ webhook: this.name, dropped: this.stats.dropped, max_queue: this.options.maxQueue }, 'webhook queue full; dropped the oldest event');
      }
    }
    this.queue.push(event);
    this.stats.queued = this.queue.length;
    if (!this.running) void this.drain();
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      for (let event = this.queue.shift(); event && !this.closing.aborted; event = this.queue.shift()) {
        this.stats.queued = this.queue.length;
        await this.deliver(event);
      }
    } finally {
      this.running = false;
    }
  }

  private async deliver(event: ApiEvent): Promise<void> {
    const body = JSON.stringify({ type: event.type, data: event.data, timestamp: event.timestamp, id: event.id });
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'evse-priority-webhooks',
      [SIGNATURE_HEADER]: signBody(body, this.config.secret),
      [TIMESTAMP_HEADER]: String(Math.floor(Date.now() / 1000)),
      [EVENT_HEADER]: event.type,
      [DELIVERY_HEADER]: String(event.id),
      ...(this.target.authorization === undefined ? {} : { authorization: this.target.authorization }),
    };
    let problem = '';
    for (let attempt = 1; attempt <= this.options.attempts; attempt++) {
      if (this.closing.aborted) return;
      try {
        const response = await fetch(this.target.url, {
          method: 'POST',
          headers,
          body,
          redirect: 'manual',
          signal: AbortSignal.any([this.closing, AbortSignal.timeout(this.options.timeoutMs)]),
        });
        await response.body?.cancel();
        if (response.ok) {
          this.stats.delivered += 1;
          return;
        }
        problem = `HTTP ${response.status}`;
        // A 4xx other than 408/429 means the receiver will not take this event however often we try.
        if (response.status < 500 && response.status !== 408 && response.status !== 429) break;
      } catch (error) {
        if (this.closing.aborted) return;
        // The logger redacts the URLs some fetch errors repeat.
        problem = error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error);
      }
      if (attempt < this.options.attempts) {
        try {
          await sleep(this.options.backoffMs * 2 ** (attempt - 1), undefined, { signal: this.closing });
        } catch {
          return;
        }
      }
    }
    this.stats.failed += 1;
    this.log.warn({ webhook: this.name, event: event.id, type: event.type, problem }, 'webhook delivery failed; event not delivered');
  }
}

/**
 * POSTs every event to each configured webhook, signed with its secret. Each webhook has its own
 * bounded queue worked off one request at a time (in order), so a slow or dead receiver delays only
 * itself and never the event pipeline.
 */
export class WebhookDispatcher {
  private readonly targets: WebhookTarget[];
  private readonly abort = new AbortController();
  private readonly subscription: Subscription;

  constructor(webhooks: readonly WebhookConfig[], events$: Observable<ApiEvent>, logger: Logger, options: WebhookDeliveryOptions = {}) {
    const resolved: Required<WebhookDeliveryOptions> = {
      attempts: options.attempts ?? 3,
      backoffMs: options.backoffMs ?? 500,
      maxQueue: options.maxQueue ?? 1000,
      timeoutMs: options.timeoutMs ?? 5000,
    };
    this.targets = webhooks.map((w, i) => new WebhookTarget(w, label(i, w.url), resolved, logger, this.abort.signal));
    this.subscription = events$.subscribe((event) => {
      for (const target of this.targets) target.offer(event);
    });
    if (webhooks.length > 0) logger.info({ webhooks: webhooks.map((w, i) => label(i, w.url)) }, 'webhooks active');
  }

  stats(): WebhookStats[] {
    return this.targets.map((t) => ({ ...t.stats }));
  }

  /** Stops taking events and abandons deliveries in progress. */
  close(): void {
    this.subscription.unsubscribe();
    this.abort.abort();
  }
}
