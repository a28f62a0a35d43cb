// The page speaks the public API only; its shapes are the server's own types (erased at build time).
import type { ApiEvent } from '../api/events.js';
import type { EvseStatusDto, SiteFigures } from '../api/service.js';
import type { ActionRecord } from '../site/actions.js';

export type { ActionRecord, ApiEvent, EvseStatusDto, SiteFigures };

/** GET /v1/site. */
export type SiteSummary = Omit<SiteFigures, 'evses'> & { next_review_at?: string };

export interface Envelope<T> {
  data: T;
  status_code: number;
  status_message: string;
  timestamp: string;
}
