import type { Powermeter } from '../everest/payloads.js';

export type PhaseCount = 1 | 2 | 3;

export interface PowerInputs {
  /** Current the EVSE offers per phase (its limit, already capped by hardware). */
  limitA: number;
  limitPhases: PhaseCount;
  hwMaxA: number;
  hwPhases: PhaseCount;
  carMaxW: number;
  carPhases: PhaseCount;
  voltageV: number;
}

/** IEC 61851 cannot signal less than 6 A; EVerest treats anything at or below 5.9 A as no power. */
export const MIN_CHARGE_CURRENT_A = 6;

export function phasesInUse(p: Pick<PowerInputs, 'limitPhases' | 'hwPhases' | 'carPhases'>): PhaseCount {
  return Math.min(p.limitPhases, p.hwPhases, p.carPhases) as PhaseCount;
}

export function offeredCurrentA(p: Pick<PowerInputs, 'limitA' | 'hwMaxA'>): number {
  return Math.max(0, Math.min(p.limitA, p.hwMaxA));
}

export function powerAvailable(p: Pick<PowerInputs, 'limitA' | 'hwMaxA'>): boolean {
  return offeredCurrentA(p) > 5.9;
}

/** What a charging car draws: the smallest of what is offered, what the hardware allows and what the car takes. */
export function chargePowerW(p: PowerInputs): number {
  if (!powerAvailable(p)) return 0;
  const phases = phasesInUse(p);
  const offered = offeredCurrentA(p) * phases * p.voltageV;
  return Math.max(0, Math.min(offered, p.carMaxW));
}

export interface MeterReading {
  totalWh: number;
  powerW: number;
  phases: PhaseCount;
  voltageV: number;
  meterId: string;
  now: number;
}

const round = (value: number, digits: number): number => {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
};

export function powermeterPayload(r: MeterReading): Powermeter {
  const perPhaseW = r.powerW / r.phases;
  const perPhaseA = r.powerW > 0 ? perPhaseW / r.voltageV : 0;
  const onPhase = (n: number, value: number): number => (n <= r.phases ? round(value, 2) : 0);
  return {
    timestamp: new Date(r.now).toISOString(),
    meter_id: r.meterId,
    energy_Wh_import: { total: round(r.totalWh, 3) },
    power_W: { total: round(r.powerW, 1), L1: onPhase(1, perPhaseW), L2: onPhase(2, perPhaseW), L3: onPhase(3, perPhaseW) },
    current_A: { L1: onPhase(1, perPhaseA), L2: onPhase(2, perPhaseA), L3: onPhase(3, perPhaseA) },
    voltage_V: { L1: r.voltageV, L2: r.voltageV, L3: r.voltageV },
    frequency_Hz: { L1: 50 },
  };
}
