import { Subject, type Observable, type Subscription } from 'rxjs';
import type { ActionRecord } from '../site/actions.js';
import type { SiteEvent } from '../site/controller.js';
import type { LiveEvent } from './live.js';

/** What the feed numbers: the site's own events and the live figures the API derives from its state. */
export type FeedInput = SiteEvent | LiveEvent;

export type EventType = FeedInput['type'];

export const EVENT_TYPES = ['action', 'session_state', 'decision', 'budget', 'liveness', 'site', 'evse'] as const satisfies readonly EventType[];

/** Sent about once a second while anything moves: not replayed one by one, and not sent to webhooks unless asked for. */
export const FREQUENT_EVENT_TYPES: ReadonlySet<EventType> = new Set<EventType>(['site']);

// Fails to compile when the site domain grows an event type this list (and the documented schemas) lack.
type Unlisted = Exclude<EventType, (typeof EVENT_TYPES)[number]>;
const everyTypeListed: [Unlisted] extends [never] ? true : never = true;
void everyTypeListed;

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

export function isEventType(value: string): value is EventType {
  return (EVENT_TYPES as readonly string[]).includes(value);
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
