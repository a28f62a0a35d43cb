import type { E2mVar, M2eRequest, M2eSend } from './payloads.js';

export interface TopicOptions {
  /** EVerest's mqtt_external_prefix, glued on with no separator (default ''). */
  prefix: string;
  /** Version segment: '1' since 2025-10-28, '1.0' before. */
  apiVersion: string;
}

export interface ParsedTopic {
  moduleId: string;
  direction: 'e2m' | 'm2e';
  /** The variable or command name (first segment after the direction). */
  name: string;
  /** Remaining segments after the name, e.g. the uuid of a reply topic. */
  rest: string[];
}

/** Builds and parses `{prefix}everest_api/{version}/evse_manager_consumer/{module_id}/{e2m|m2e}/{name}`. */
export class EverestTopics {
  readonly base: string;
  private readonly baseSegments: number;

  constructor(options: TopicOptions) {
    this.base = `${options.prefix}everest_api/${options.apiVersion}/evse_manager_consumer`;
    this.baseSegments = this.base.split('/').length;
  }

  module(moduleId: string): string {
    return `${this.base}/${moduleId}`;
  }

  e2m(moduleId: string, name: E2mVar): string {
    return `${this.base}/${moduleId}/e2m/${name}`;
  }

  m2e(moduleId: string, name: M2eRequest | M2eSend): string {
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

  parse(topic: string): ParsedTopic | undefined {
    if (!topic.startsWith(this.base + '/')) return undefined;
    const segments = topic.split('/');
    const moduleId = segments[this.baseSegments];
    const direction = segments[this.baseSegments + 1];
    const name = segments[this.baseSegments + 2];
    if (!moduleId || !name || (direction !== 'e2m' && direction !== 'm2e')) return undefined;
    return { moduleId, direction, name, rest: segments.slice(this.baseSegments + 3) };
  }
}
