import type { Config } from './types.js';

/** What the composition root logs when some EVSE can never be given a car under on/off control. */
export const NO_CURRENT_CONTROL_WARNING = 'no car can charge here without current control: configure limits_module_id';

export interface EvseAboveBudget {
  module_id: string;
  /** max_current_a x phases x nominal_voltage_v. */
  rating_w: number;
}

/**
 * EVSEs under on/off control (no limits_module_id) whose rating exceeds what the planner may hand out
 * (site.max_power_w plus the overrun tolerance it uses as headroom): on/off control grants a car its
 * EVSE's whole rating or nothing, so such an EVSE never charges. An EVSE without max_current_a is not
 * judged: its rating is only known once EVerest reports hw_capabilities.
 */
export function evsesAboveBudget(config: Pick<Config, 'evses' | 'site' | 'scheduler'>): EvseAboveBudget[] {
  const usable = config.site.max_power_w + config.scheduler.overrun_tolerance_w;
  return config.evses.flatMap((evse) => {
    if (evse.limits_module_id !== undefined || evse.max_current_a === undefined) return [];
    const rating = evse.max_current_a * evse.phases * config.site.nominal_voltage_v;
    return rating > usable ? [{ module_id: evse.module_id, rating_w: Math.round(rating) }] : [];
  });
}
