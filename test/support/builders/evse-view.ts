// Builders for the site's EVSE views: the default is a car charging at 11 kW on connector 1 since an
// hour before NOW, heartbeat online; a test names what matters.
import { initialEvseView, type EvseView } from '../../../src/site/evse-view.js';
import { CAR_11KW_W, HOUR_MS, NOW } from './snapshot.js';

export function aChargingView(moduleId = 'evse_1', overrides: Partial<EvseView> = {}): EvseView {
  return {
    ...initialEvseView(moduleId),
    state: 'Charging',
    session: { uuid: `session-${moduleId}`, startedAtMs: NOW - HOUR_MS, transaction: true },
    powerW: CAR_11KW_W,
    energyWh: 11_000,
    lastOnMs: NOW - HOUR_MS,
    liveness: { moduleId, status: 'online', lost: 0, restarts: 0 },
    eventsSeen: true,
    ...overrides,
  };
}

/** An EVSE with no car: no session, nothing drawn. */
export function anIdleView(moduleId = 'evse_1', overrides: Partial<EvseView> = {}): EvseView {
  return { ...initialEvseView(moduleId), state: 'Unplugged', liveness: { moduleId, status: 'online', lost: 0, restarts: 0 }, eventsSeen: true, ...overrides };
}
