import type { SessionEvent, SessionInfo } from '../../src/everest/payloads.js';
import { EvseModel, type EvseModelConfig } from '../../src/sim/evse-model.js';

export function newModel(overrides: Partial<EvseModelConfig> = {}, now = 0): EvseModel {
  let n = 0;
  return new EvseModel({ moduleId: 'evse_1', evseIndex: 1, newSessionId: () => `session-${++n}`, ...overrides }, now);
}

/** Session events drained from the model, in order. */
export function takeEvents(model: EvseModel): SessionEvent[] {
  return model.drain().flatMap((o) => (o.name === 'session_event' ? [o.payload] : []));
}

export function takeEventNames(model: EvseModel): string[] {
  return takeEvents(model).map((e) => e.event);
}

export function takeInfos(model: EvseModel): SessionInfo[] {
  return model.drain().flatMap((o) => (o.name === 'session_info' ? [o.payload] : []));
}
