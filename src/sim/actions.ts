import type { EvseModel } from './evse-model.js';
import type { PhaseCount } from './physics.js';

/** What a scenario (or a test) can make happen at one EVSE, or to the whole simulated EVerest. */
export type SimAction =
  | { action: 'plug_in'; max_power_w?: number; phases?: PhaseCount; target_energy_wh?: number; auto_authorize?: boolean; hlc?: boolean }
  | { action: 'authorize'; id_tag?: string }
  | { action: 'ev_pause' }
  | { action: 'ev_resume' }
  | { action: 'unplug' }
  | { action: 'set_limit'; current_a: number; phases?: PhaseCount }
  | { action: 'set_car_max_power'; w: number }
  | { action: 'set_target_energy'; wh: number }
  | { action: 'restart' }
  | { action: 'go_silent'; duration_s: number }
  | { action: 'send_garbage'; topic?: string }
  | { action: 'hlc_session_failed'; reason: string };

export type ActionName = SimAction['action'];

export const ACTION_NAMES = [
  'plug_in',
  'authorize',
  'ev_pause',
  'ev_resume',
  'unplug',
  'set_limit',
  'set_car_max_power',
  'set_target_energy',
  'restart',
  'go_silent',
  'send_garbage',
  'hlc_session_failed',
] as const satisfies readonly ActionName[];

/** Actions that may leave out module_id to mean every simulated module. */
export const MODULE_WIDE_ACTIONS: ReadonlySet<ActionName> = new Set(['restart', 'go_silent', 'send_garbage']);

/** module_id is required except for MODULE_WIDE_ACTIONS. */
export type TargetedAction = SimAction & { module_id?: string };

/** Applies the actions that only concern the EVSE model; the simulator handles the rest. */
export function applyToModel(model: EvseModel, action: SimAction, now: number, defaults: { autoAuthorize: boolean }): boolean {
  switch (action.action) {
    case 'plug_in':
      model.plugIn(
        {
          ...(action.max_power_w !== undefined ? { maxPowerW: action.max_power_w } : {}),
          ...(action.phases !== undefined ? { phases: action.phases } : {}),
          ...(action.target_energy_wh !== undefined ? { targetEnergyWh: action.target_energy_wh } : {}),
          autoAuthorize: action.auto_authorize ?? defaults.autoAuthorize,
          ...(action.hlc !== undefined ? { hlc: action.hlc } : {}),
        },
        now,
      );
      return true;
    case 'authorize':
      if (action.id_tag !== undefined) {
        model.authorize(now, { id_token: { value: action.id_tag, type: 'ISO14443' }, authorization_type: 'RFID' });
      } else {
        model.authorize(now);
      }
      return true;
    case 'ev_pause':
      model.evPause(now);
      return true;
    case 'ev_resume':
      model.evResume(now);
      return true;
    case 'unplug':
      model.unplug(now);
      return true;
    case 'set_limit':
      model.setLimit(action.current_a, action.phases, now);
      return true;
    case 'set_car_max_power':
      model.setCarMaxPower(action.w, now);
      return true;
    case 'set_target_energy':
      model.setTargetEnergy(action.wh, now);
      return true;
    case 'restart':
      model.restart(now);
      return true;
    case 'hlc_session_failed':
      model.hlcSessionFailed(action.reason, now);
      return true;
    default:
      return false;
  }
}
