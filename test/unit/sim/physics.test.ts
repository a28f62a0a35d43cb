import { describe, expect, it } from 'vitest';
import { chargePowerW, powerAvailable } from '../../../src/sim/physics.js';
import { newModel, takeEventNames, takeInfos } from '../../support/sim-model.js';

const base = { limitA: 32, limitPhases: 3, hwMaxA: 32, hwPhases: 3, carMaxW: 50_000, carPhases: 3, voltageV: 230 } as const;

describe('charge power', () => {
  it.each([
    { name: 'limit current x phases x voltage', inputs: { limitA: 16 }, watts: 16 * 3 * 230 },
    { name: 'hardware maximum caps the limit', inputs: { limitA: 63, hwMaxA: 32 }, watts: 32 * 3 * 230 },
    { name: 'the car maximum caps everything', inputs: { carMaxW: 11_000 }, watts: 11_000 },
    { name: 'one phase car', inputs: { limitA: 16, carPhases: 1 }, watts: 16 * 230 },
    { name: 'one phase limit', inputs: { limitA: 10, limitPhases: 1 }, watts: 10 * 230 },
    { name: 'below 6 A nothing flows', inputs: { limitA: 5.9 }, watts: 0 },
    { name: 'exactly 6 A flows', inputs: { limitA: 6 }, watts: 6 * 3 * 230 },
  ] as const)('$name', ({ inputs, watts }) => {
    expect(chargePowerW({ ...base, ...inputs })).toBeCloseTo(watts, 6);
  });

  it('treats 5.9 A as no power, like EVerest', () => {
    expect(powerAvailable({ limitA: 5.9, hwMaxA: 32 })).toBe(false);
    expect(powerAvailable({ limitA: 6, hwMaxA: 32 })).toBe(true);
  });
});

describe('energy over time', () => {
  it('integrates power into the meter and session_info while charging', () => {
    const m = newModel({ initialLimitA: 16 }, 0);
    m.plugIn({ maxPowerW: 22_000 }, 0);
    m.authorize(0);
    m.drain();
    expect(m.snapshot().powerW).toBeCloseTo(11_040, 6);
    for (let t = 1_000; t <= 3_600_000; t += 1_000) m.tick(t);
    const snap = m.snapshot();
    expect(snap.carChargedWh).toBeCloseTo(11_040, 3);
    expect(snap.meterWh).toBeCloseTo(1_000_000 + 11_040, 3);
    const last = takeInfos(m).at(-1);
    expect(last).toMatchObject({ state: 'Charging', charged_energy_wh: 11_040, latest_total_w: 11_040, session_duration_s: 3_600 });
  });

  it('follows a limit change and the car maximum', () => {
    const m = newModel({}, 0);
    m.plugIn({ maxPowerW: 7_400 }, 0);
    m.authorize(0);
    expect(m.snapshot().powerW).toBe(7_400);
    m.setLimit(8, 1, 1_000);
    expect(m.snapshot().powerW).toBeCloseTo(8 * 230, 6);
    m.setCarMaxPower(1_000, 2_000);
    expect(m.snapshot().powerW).toBe(1_000);
    m.tick(3_602_000);
    // 1 s at 7.4 kW + 1 s at 1.84 kW + 3600 s at 1 kW
    expect(m.snapshot().carChargedWh).toBeCloseTo((7_400 + 1_840) / 3_600 + 1_000, 6);
  });

  it('publishes limits and enforced_limits when the limit changes, not when it stays', () => {
    const m = newModel({}, 0);
    m.drain();
    m.setLimit(16, 3, 1_000);
    expect(m.drain().map((o) => o.name)).toEqual(['limits', 'enforced_limits']);
    m.setLimit(16, 3, 2_000);
    expect(m.drain().map((o) => o.name)).toEqual([]);
  });

  it('stops at the target energy: the car goes to ChargingPausedEV with 0 W and stays there', () => {
    const m = newModel({}, 0);
    m.plugIn({ maxPowerW: 11_000, targetEnergyWh: 100 }, 0);
    m.authorize(0);
    m.drain();
    m.tick(30_000);
    expect(takeEventNames(m)).toEqual([]);
    m.tick(40_000);
    expect(takeEventNames(m)).toEqual(['ChargingPausedEV']);
    expect(m.snapshot()).toMatchObject({ state: 'ChargingPausedEV', powerW: 0, batteryFull: true });
    expect(m.snapshot().carChargedWh).toBeCloseTo(100, 9);
    m.tick(100_000);
    expect(m.snapshot().carChargedWh).toBeCloseTo(100, 9);
    m.setTargetEnergy(200, 101_000);
    expect(takeEventNames(m)).toEqual(['ChargingResumed']);
  });

  it('reports the powermeter on every tick, idle included, and session_info only during a session', () => {
    const m = newModel({}, 0);
    m.drain();
    m.tick(1_000);
    expect(m.drain().map((o) => o.name)).toEqual(['powermeter']);
    m.plugIn({}, 1_500);
    m.drain();
    m.tick(2_000);
    expect(m.drain().map((o) => o.name)).toEqual(['powermeter', 'session_info']);
  });

  it('gives per-phase power and current in the powermeter sample', () => {
    const m = newModel({ initialLimitA: 16 }, 0);
    m.plugIn({ maxPowerW: 50_000 }, 0);
    m.authorize(0);
    m.drain();
    m.tick(1_000);
    const pm = m.drain().find((o) => o.name === 'powermeter');
    expect(pm?.name === 'powermeter' ? pm.payload : undefined).toMatchObject({
      power_W: { total: 11_040, L1: 3_680, L2: 3_680, L3: 3_680 },
      current_A: { L1: 16, L2: 16, L3: 16 },
    });
  });
});
