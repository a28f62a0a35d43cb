import { Subject, type Observable, type Subscription } from 'rxjs';
import type { ActionRecord } from '../site/actions.js';
import type { SiteEvent } from '../site/controller.js';

export type EventType = SiteEvent['type'];

export const EVENT_TYPES = ['action', 'session_state', 'decision', 'budget', 'liveness'] as const satisfies readonly EventType[];

// Fails to compile when the site domain grows an event type this list (and the documented schemas) lack.
type Unlisted = Exclude<EventType, (typeof EVENT_TYPES)[number]>;
const everyTypeListed: [Unlisted] extends [never] ? true : never = true;
void everyTypeListed;

type SiteEventOf<K extends EventType> = Extract<SiteEvent, { type: K }>;

export type EventData<K extends EventType> = K extends 'action' ? ActionRecord : Omit<SiteEventOf<K>, 'type' | 'at'>;

/** One event as SSE clients and webhooks receive it (the same JSON on both channels). */
export type ApiEvent = {
  [K in EventType]: { id: number; type: K; timestamp: string; data: EventData<K> };
}[EventType];

export function toApiEvent(event: SiteEvent, id: number): ApiEvent {
  if (event.type === 'action') return { id, type: 'action', timestamp: event.at, data: event.action };
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
 * and keeps the most recent ones for replay.
 */
export class EventFeed {
  private nextId: number;
  private readonly recent: ApiEvent[] = [];
  private readonly replaySize: number;
  private readonly subject = new Subject<ApiEvent>();
  private readonly subscription: Subscription;
  readonly events$: Observable<ApiEvent> = this.subject.asObservable();

  constructor(source$: Observable<SiteEvent>, options: EventFeedOptions = {}) {
    this.nextId = options.firstId ?? Date.now() * 1000;
    this.replaySize = options.replaySize ?? 1000;
    this.subscription = source$.subscribe({
      next: (event) => this.publish(toApiEvent(event, this.nextId++)),
      complete: () => this.subject.complete(),
    });
  }

  /** Buffered events after `lastId`, oldest first (all buffered ones if `lastId` is older than the buffer). */
  since(lastId: number): ApiEvent[] {
    return this.recent.filter((e) => e.id > lastId);
  }

  close(): void {
    this.subscription.unsubscribe();
    this.subject.complete();
  }

  private publish(event: ApiEvent): void {
    this.recent.push(event);
    if (this.recent.length > this.replaySize) this.recent.shift();
    this.subject.next(event);
  }
}
