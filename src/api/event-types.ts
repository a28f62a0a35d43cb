// The event types of the feed, apart from the feed itself: the browser page imports this module, and
// nothing here may pull in rxjs or Node.
import type { SiteEvent } from '../site/controller.js';
import type { LiveEvent } from './live.js';
import { isOneOf } from '../validation/one-of.js';

/** What the feed numbers: the site's own events and the live figures the API derives from its state. */
export type FeedInput = SiteEvent | LiveEvent;

export type EventType = FeedInput['type'];

export const EVENT_TYPES = ['action', 'session_state', 'decision', 'budget', 'liveness', 'site', 'evse', 'hlc_session_failed', 'hold_alarm'] as const satisfies readonly EventType[];

/** Sent about once a second while anything moves: not replayed one by one, and not sent to webhooks unless asked for. */
export const FREQUENT_EVENT_TYPES: ReadonlySet<EventType> = new Set<EventType>(['site']);

// Fails to compile when the site domain grows an event type this list (and the documented schemas) lack.
type Unlisted = Exclude<EventType, (typeof EVENT_TYPES)[number]>;
const everyTypeListed: [Unlisted] extends [never] ? true : never = true;
void everyTypeListed;

export function isEventType(value: string): value is EventType {
  return isOneOf(EVENT_TYPES, value);
}
