import { filter } from 'rxjs';
import { isEventType, type ApiEvent, type EventType } from '../../events.js';
import { errorResponses } from '../route-spec.js';
import { apiEventSchema, eventsQuerySchema } from '../schemas/events.js';
import type { RouteContext } from './context.js';

export function eventRoutes({ table, feed, log, sse, metrics }: RouteContext): void {
  table.add<{ Querystring: { types?: string }; Headers: { 'last-event-id'?: string } }>({
    method: 'GET',
    url: '/v1/events',
    operationId: 'streamEvents',
    tag: 'events',
    summary: 'Server-Sent Events: action status changes, session states, decisions, budget and liveness',
    description:
      'event = type, id = event id, data = the event JSON. A comment line keeps the connection alive every 15 s. ' +
      'Reconnect with Last-Event-ID to receive the events missed meanwhile (the last 1000 are kept).',
    auth: 'token',
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

      const lastId = Number(request.headers['last-event-id']);
      if (Number.isSafeInteger(lastId)) for (const event of feed.since(lastId)) if (selected(event)) send(event);
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
