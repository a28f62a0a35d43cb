// What an EVerest state alone says about a session, for both planners (the on/off scheduler and the
// current allocator): states in which a session is left alone whatever we plan, and the draw a meter shows.
import type { EvseState } from '../everest/payloads.js';
import type { ReasonCode } from './model.js';

const LEFT_ALONE = {
  ChargingPausedEV: 'paused_by_ev',
  Unplugged: 'no_session',
  Finished: 'no_session',
  FinishedEV: 'no_session',
  FinishedEVSE: 'no_session',
  AuthTimeout: 'no_session',
  AuthRequired: 'not_ready',
  Reserved: 'not_ready',
  Unknown: 'unknown_state',
} as const satisfies Partial<Record<EvseState, ReasonCode>>;

export type LeftAloneState = keyof typeof LEFT_ALONE;

export function isLeftAlone(state: EvseState): state is LeftAloneState {
  return Object.hasOwn(LEFT_ALONE, state);
}

/** The leave code of such a state and the power it counts: only a session in an unknown state may still draw. */
export function leftAlone(state: LeftAloneState, measuredW: number | undefined): { code: ReasonCode; w: number } {
  return { code: LEFT_ALONE[state], w: state === 'Unknown' ? (measuredW ?? 0) : 0 };
}

/** The measured draw, if any. Export (negative import) is not headroom we can hand out: the car may stop exporting any second. */
export function measuredDrawW(measuredPowerW: number | undefined): number | undefined {
  return measuredPowerW !== undefined && Number.isFinite(measuredPowerW) ? Math.max(0, measuredPowerW) : undefined;
}
