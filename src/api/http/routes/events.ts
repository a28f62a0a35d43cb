import { filter } from 'rxjs';
import { isEventType, type ApiEvent, type EventType } from '../../events.js';
import { errorResponses } from '../route-spec.js';
import { success } from '../envelope.js';
import { envelopeOf } from '../schemas/common.js';
import { apiEventSchema, eventsQuerySchema, sseTicketSchema } from '../schemas/events.js';
import type { RouteContext } from './context.js';

export function eventRoutes({ table, feed, tickets, log, sse, metrics }: RouteContext): void {
  table.add({
    method: 'POST',
    url: '/v1/events/tickets',
    operationId: 'createEventTicket',
    tag: 'events',
    summary: 'A one-time ticket to open the event stream from a browser',
    description:
      "EventSource cannot send an Authorization header. Buy a ticket with your token and open /v1/events?ticket=<ticket>: it opens " +
      'one stream within 30 s and is then spent, so the URL it travels in (browser history, proxy logs) never carries a usable secret.',
    auth: 'token',
    responses: {
      201: { description: 'The ticket.', schema: envelopeOf(sseTicketSchema) },
      ...errorResponses(401),
    },
    handler: async (request, reply) => {
      const { ticket, expiresAtMs } = tickets.issue(request.principal);
      reply.code(201);
      return success({ ticket, expires_at: new Date(expiresAtMs).toISOString() }, 'ticket issued');
    },
  });

  table.add<{ Querystring: { types?: string; ticket?: string; last_event_id?: string; recent?: string }; Headers: { 'last-event-id'?: string } }>({
    method: 'GET',
    url: '/v1/events',
    operationId: 'streamEvents',
    tag: 'events',
    summary: 'Server-Sent Events: actions, session states, decisions, budget, liveness, EVSE status and live site figures',
    description:
      'event = type, id = event id, data = the event JSON. A comment line keeps the connection alive every 15 s. ' +
      'Reconnect with Last-Event-ID (header, or last_event_id in the query) to receive the events missed meanwhile (the last 1000 are kept; ' +
      'of `site` only the latest). A new stream starts with the latest `site` event when it asks for that type. ' +
      'Authorization: Bearer, or a one-time ticket from POST /v1/events/tickets in the query.',
    auth: 'token_or_ticket',
    query: eventsQuerySchema,
    headers: {
      type: 'object',
      properties: { 'last-event-id': { type: 'string', description: 'Id of the last event received (sent by EventSource on reconnect).' } },
    },
    sse: true,
    responses: {
      200: { description: 'An endless event stream.', contentType: 'text/event-stream', schema: apiEventSchema },
      ...errorResponses(400, 401),
    },
    handler: async (request, reply) => {
      const wanted = new Set<EventType>((request.query.types ?? '').split(',').filter(isEventType));
      const selected = (e: ApiEvent): boolean => wanted.size === 0 || wanted.has(e.type);
      const stream = reply.sse;
      stream.keepAlive();
      stream.sendHeaders();
      // Comment line so the client sees the response (headers) before the first event.
      reply.raw.write(': evse-priority events\n\n');

      const send = (event: ApiEvent): void => {
        if (!stream.isConnected) return;
        // A client that stops reading must not make the process buffer events without bound.
        if (reply.raw.writableLength > sse.maxBufferedBytes) {
          log.warn({ buffered: reply.raw.writableLength }, 'SSE client is not reading; closing its stream');
          stream.close();
          return;
        }
        // A client gone mid-write is the normal end of a stream; its close handler cleans up.
        stream.send({ id: String(event.id), event: event.type, data: event }).catch((err: Error) => log.debug({ err: err.message }, 'SSE send failed'));
      };

      const lastId = Number(request.headers['last-event-id'] ?? request.query.last_event_id);
      if (Number.isSafeInteger(lastId)) {
        for (const event of feed.since(lastId)) if (selected(event)) send(event);
      } else {
        const recent = Number(request.query.recent ?? 0);
        if (recent > 0) for (const event of feed.since(-1).filter((e) => e.type !== 'site' && selected(e)).slice(-recent)) send(event);
        // A live view needs the figures now, not at the next change.
        const site = feed.latest('site');
        if (site && selected(site)) send(site);
      }
      const subscription = feed.events$.pipe(filter(selected)).subscribe({ next: send, complete: () => stream.close() });
      metrics.sseClients(1);
      let released = false;
      const release = (): void => {
        if (released) return;
        released = true;
        subscription.unsubscribe();
        metrics.sseClients(-1);
      };
      stream.onClose(release);
      // A client gone before onClose was registered would never trigger it.
      if (!stream.isConnected) release();
    },
  });
}
