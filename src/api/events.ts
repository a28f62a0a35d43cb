import { Subject, type Observable, type Subscription } from 'rxjs';
import type { ActionRecord } from '../site/actions.js';
import type { SiteEvent } from '../site/controller.js';
import { FREQUENT_EVENT_TYPES, type EventType, type FeedInput } from './event-types.js';
import type { LiveEvent } from './live.js';

export { EVENT_TYPES, FREQUENT_EVENT_TYPES, isEventType, type EventType, type FeedInput } from './event-types.js';

type SiteEventOf<K extends EventType> = Extract<SiteEvent, { type: K }>;

export type EventData<K extends EventType> = K extends 'action'
  ? ActionRecord
  : K extends LiveEvent['type']
    ? Extract<LiveEvent, { type: K }>['data']
    : Omit<SiteEventOf<K>, 'type' | 'at'>;

/** One event as SSE clients and webhooks receive it (the same JSON on both channels). */
export type ApiEvent = {
  [K in EventType]: { id: number; type: K; timestamp: string; data: EventData<K> };
}[EventType];

export function toApiEvent(event: FeedInput, id: number): ApiEvent {
  if (event.type === 'action') return { id, type: 'action', timestamp: event.at, data: event.action };
  if (event.type === 'site') return { id, type: 'site', timestamp: event.at, data: event.data };
  if (event.type === 'evse') return { id, type: 'evse', timestamp: event.at, data: event.data };
  const { type, at, ...data } = event;
  // The rest of a discriminated union member is exactly that member's EventData.
  return { id, type, timestamp: at, data } as ApiEvent;
}


export interface EventFeedOptions {
  /** Events kept for SSE clients reconnecting with Last-Event-ID. */
  replaySize?: number;
  /** First id handed out; defaults to the start time in microseconds so ids keep increasing across restarts. */
  firstId?: number;
}

/**
 * Numbers the site's events once, so SSE clients and webhooks see the same id for the same event,
 * and keeps the most recent ones for replay. Of the frequent types only the latest is kept: it holds
 * the whole picture, and a thousand of them would push decisions and actions out of the buffer.
 */
export class EventFeed {
  private nextId: number;
  private readonly recent: ApiEvent[] = [];
  private readonly latestFrequent = new Map<EventType, ApiEvent>();
  private readonly replaySize: number;
  private readonly subject = new Subject<ApiEvent>();
  private readonly subscription: Subscription;
  readonly events$: Observable<ApiEvent> = this.subject.asObservable();

  constructor(source$: Observable<FeedInput>, options: EventFeedOptions = {}) {
    this.nextId = options.firstId ?? Date.now() * 1000;
    this.replaySize = options.replaySize ?? 1000;
    this.subscription = source$.subscribe({
      next: (event) => this.publish(toApiEvent(event, this.nextId++)),
      complete: () => this.subject.complete(),
    });
  }

  /** Buffered events after `lastId`, oldest first (all buffered ones if `lastId` is older than the buffer). */
  since(lastId: number): ApiEvent[] {
    const missed = this.recent.filter((e) => e.id > lastId);
    for (const latest of this.latestFrequent.values()) if (latest.id > lastId) missed.push(latest);
    return missed.sort((a, b) => a.id - b.id);
  }

  /** The latest event of a frequent type (e.g. the site's figures), for a client that just connected. */
  latest(type: EventType): ApiEvent | undefined {
    return this.latestFrequent.get(type);
  }

  close(): void {
    this.subscription.unsubscribe();
    this.subject.complete();
  }

  private publish(event: ApiEvent): void {
    if (FREQUENT_EVENT_TYPES.has(event.type)) this.latestFrequent.set(event.type, event);
    else {
      this.recent.push(event);
      if (this.recent.length > this.replaySize) this.recent.shift();
    }
    this.subject.next(event);
  }
}
