import type { ApiEvent, Envelope } from './types.js';
import { EVENT_TYPES } from '../api/event-types.js';

/** An API answer other than success, with the server's own words. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const TOKEN_KEY = 'evse-priority.token';
/** Kept events a fresh page starts with, so its log shows what happened before it opened. */
const RECENT_EVENTS = 120;

/** The token for this browser session: `?token=` wins (and leaves the address bar), else the one kept. */
export function takeToken(): string | undefined {
  const url = new URL(window.location.href);
  const fromUrl = url.searchParams.get('token');
  if (fromUrl) {
    sessionStorage.setItem(TOKEN_KEY, fromUrl);
    url.searchParams.delete('token');
    // Out of the address bar and history: a shared screenshot or link must not carry it.
    window.history.replaceState(null, '', url.pathname + url.search + url.hash);
    return fromUrl;
  }
  return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
}

export function keepToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}

export class Api {
  constructor(private readonly token: string | undefined) {}

  /**
   * Calls /v1…; resolves with the envelope's data and message (and a page's rel="next" link), rejects
   * with ApiFailure in words.
   */
  async call<T>(method: string, path: string, body?: unknown): Promise<{ data: T; message: string; timestamp: string; next?: string }> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(path, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    } catch (err) {
      throw new ApiFailure(0, `the module did not answer (${err instanceof Error ? err.message : String(err)})`);
    }
    let envelope: Envelope<T> | undefined;
    try {
      envelope = (await response.json()) as Envelope<T>;
    } catch {
      envelope = undefined;
    }
    if (!response.ok || !envelope) {
      throw new ApiFailure(response.status, envelope?.status_message ?? `HTTP ${response.status} ${response.statusText}`);
    }
    const next = nextLink(response.headers.get('link'));
    return { data: envelope.data, message: envelope.status_message, timestamp: envelope.timestamp, ...(next !== undefined ? { next } : {}) };
  }

  /**
   * Every record of a paged list, following rel="next" to the last page. The timestamp is the first
   * page's, the oldest: live events newer than it still win over what the later pages said.
   */
  async all<T>(path: string): Promise<{ data: T[]; timestamp: string }> {
    const first = await this.call<T[]>('GET', path);
    const data = [...first.data];
    let next = first.next;
    while (next !== undefined) {
      const page = await this.call<T[]>('GET', next);
      data.push(...page.data);
      next = page.next;
    }
    return { data, timestamp: first.timestamp };
  }

  /**
   * Follows /v1/events with EventSource. Each (re)connection buys a one-time ticket with the token
   * (EventSource cannot send Authorization) and resumes after the last event seen.
   */
  stream(handlers: StreamHandlers): { close(): void } {
    let source: EventSource | undefined;
    let lastId: number | undefined;
    let closed = false;
    let retryMs = 1000;
    let timer: ReturnType<typeof setTimeout> | undefined;

    const connect = async (): Promise<void> => {
      let ticket: string;
      try {
        ticket = (await this.call<{ ticket: string }>('POST', '/v1/events/tickets')).data.ticket;
      } catch (err) {
        if (err instanceof ApiFailure && err.status === 401) {
          handlers.unauthorized(err.message);
          return;
        }
        retry(err instanceof Error ? err.message : String(err));
        return;
      }
      if (closed) return;
      const query = new URLSearchParams({ ticket });
      // Resume after the last event seen; a first connection starts with the recent past for the event log.
      if (lastId !== undefined) query.set('last_event_id', String(lastId));
      else query.set('recent', String(RECENT_EVENTS));
      const es = new EventSource(`/v1/events?${query}`);
      source = es;
      es.onopen = () => {
        retryMs = 1000;
        handlers.open();
      };
      // A spent ticket cannot reconnect by itself: close and buy a new one.
      es.onerror = () => {
        es.close();
        if (source === es) retry('the event stream was interrupted');
      };
      for (const type of EVENT_TYPES) {
        es.addEventListener(type, (message) => {
          const event = JSON.parse((message as MessageEvent<string>).data) as ApiEvent;
          lastId = event.id;
          handlers.event(event);
        });
      }
    };

    const retry = (why: string): void => {
      if (closed) return;
      handlers.down(why);
      timer = setTimeout(() => void connect(), retryMs);
      retryMs = Math.min(retryMs * 2, 10_000);
    };

    void connect();
    return {
      close() {
        closed = true;
        if (timer !== undefined) clearTimeout(timer);
        source?.close();
      },
    };
  }
}

/** The target of the rel="next" link in a Link header (RFC 8288), if any. */
export function nextLink(header: string | null): string | undefined {
  if (header === null) return undefined;
  for (const link of header.split(',')) {
    const match = /^\s*<([^>]*)>(.*)$/.exec(link);
    if (match && /;\s*rel="?next"?\s*(;|$)/i.test(match[2] ?? '')) return match[1];
  }
  return undefined;
}

export interface StreamHandlers {
  open(): void;
  event(event: ApiEvent): void;
  down(why: string): void;
  unauthorized(why: string): void;
}
