import type { Logger } from '../../../log/logger.js';
import type { EventFeed } from '../../events.js';
import type { PromMetrics } from '../../metrics.js';
import type { ModuleService } from '../../service.js';
import type { RouteTable } from '../route-spec.js';
import type { SseTickets } from '../sse-tickets.js';

/** What route modules get to register their routes with. */
export interface RouteContext {
  table: RouteTable;
  service: ModuleService;
  /** The API events; its stream completes when the server closes, which ends every SSE response. */
  feed: Pick<EventFeed, 'since' | 'latest' | 'events$'>;
  tickets: SseTickets;
  metrics: PromMetrics;
  log: Logger;
  sse: { maxBufferedBytes: number };
  /** http.public_base_url: the origin (and path prefix) for absolute links; relative links without it. */
  publicBaseUrl?: string;
}
