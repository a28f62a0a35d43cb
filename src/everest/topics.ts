import type { LimitsM2eSend } from './external-limits.js';
import type { E2mVar, M2eRequest, M2eSend } from './payloads.js';

/** The API segment of EVerest's evse_manager_consumer_API topics. */
export const EVSE_MANAGER_API = 'evse_manager_consumer';
/** The API segment of EVerest's external_energy_limits_consumer_API topics. */
export const EXTERNAL_LIMITS_API = 'external_energy_limits_consumer';
export type EverestApi = typeof EVSE_MANAGER_API | typeof EXTERNAL_LIMITS_API;

export interface TopicOptions {
  /** EVerest's mqtt_external_prefix, glued on with no separator (default ''). */
  prefix: string;
  /** Version segment: '1' since 2025-10-28, '1.0' before. */
  apiVersion: string;
  /** Default evse_manager_consumer. */
  api?: EverestApi;
}

export interface ParsedTopic {
  moduleId: string;
  direction: 'e2m' | 'm2e';
  /** The variable or command name (first segment after the direction). */
  name: string;
  /** Remaining segments after the name, e.g. the uuid of a reply topic. */
  rest: readonly string[];
}

/** Builds and parses `{prefix}everest_api/{version}/{api}/{module_id}/{e2m|m2e}/{name}`. */
export class EverestTopics {
  readonly base: string;
  readonly api: EverestApi;

  constructor(private readonly options: TopicOptions) {
    this.api = options.api ?? EVSE_MANAGER_API;
    this.base = `${options.prefix}everest_api/${options.apiVersion}/${this.api}`;
  }

  /** The topics of another API of the same EVerest (same prefix and version). */
  forApi(api: EverestApi): EverestTopics {
    return api === this.api ? this : new EverestTopics({ ...this.options, api });
  }

  module(moduleId: string): string {
    return `${this.base}/${moduleId}`;
  }

  e2m(moduleId: string, name: E2mVar): string {
    return `${this.base}/${moduleId}/e2m/${name}`;
  }

  m2e(moduleId: string, name: M2eRequest | M2eSend | LimitsM2eSend): string {
    return `${this.base}/${moduleId}/m2e/${name}`;
  }

  /** Everything EVerest publishes for one module, replies included. */
  e2mFilter(moduleId: string): string {
    return `${this.base}/${moduleId}/e2m/#`;
  }

  /** Everything a module sends to EVerest (what the simulator listens to). */
  m2eFilter(moduleId: string): string {
    return `${this.base}/${moduleId}/m2e/#`;
  }

  /** Reply address in the form the spec's example gives: .../{module_id}/e2m/{operation}/{id}. */
  replyTo(moduleId: string, name: M2eRequest, id: string): string {
    return `${this.base}/${moduleId}/e2m/${name}/${id}`;
  }

  /** Hot path (every inbound message): index arithmetic instead of splitting the whole topic. */
  parse(topic: string): ParsedTopic | undefined {
    const base = this.base;
    if (!topic.startsWith(base) || topic.charCodeAt(base.length) !== SLASH) return undefined;
    const start = base.length + 1;
    const s1 = topic.indexOf('/', start);
    if (s1 <= start) return undefined;
    const s2 = topic.indexOf('/', s1 + 1);
    if (s2 < 0) return undefined;
    const direction = topic.slice(s1 + 1, s2);
    if (direction !== 'e2m' && direction !== 'm2e') return undefined;
    const s3 = topic.indexOf('/', s2 + 1);
    const name = s3 < 0 ? topic.slice(s2 + 1) : topic.slice(s2 + 1, s3);
    if (name.length === 0) return undefined;
    return { moduleId: topic.slice(start, s1), direction, name, rest: s3 < 0 ? NO_SEGMENTS : topic.slice(s3 + 1).split('/') };
  }
}

const SLASH = 47;
const NO_SEGMENTS: readonly string[] = Object.freeze([]);
