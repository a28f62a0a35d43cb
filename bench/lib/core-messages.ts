// The e2m message set of the ingest benchmark: what EVerest publishes about 1 Hz per charging EVSE
// (a full three-phase powermeter sample and the session_info that follows it), built with the
// simulator's own payload builder so the figures are for realistic sizes and field counts.
import type { SessionInfo } from '../../src/everest/payloads.js';
import { EverestTopics } from '../../src/everest/topics.js';
import { powermeterPayload } from '../../src/sim/physics.js';

export const BENCH_TOPICS = new EverestTopics({ prefix: '', apiVersion: '1' });

/** The bare round-trip baseline's topics: outside the EVerest tree so our client never sees them. */
export const BARE_REQUEST_TOPIC = 'bench/bare/m2e/pause_charging';
export const BARE_REPLY_TOPIC = 'bench/bare/e2m/reply';

export function benchModuleIds(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `evse_manager_${i}`);
}

export interface WireMessage {
  topic: string;
  payload: string;
}

/** One powermeter + one session_info per EVSE, values varied per EVSE so no two payloads are equal. */
export function ingestMessages(moduleIds: readonly string[]): WireMessage[] {
  const now = Date.parse('2026-03-01T10:00:00.000Z');
  const out: WireMessage[] = [];
  moduleIds.forEach((moduleId, i) => {
    const powerW = 4_000 + ((i * 137) % 18_000) + 0.4;
    const meter = powermeterPayload({
      totalWh: 1_234_567.891 + i * 1_000,
      powerW,
      phases: 3,
      voltageV: 229.8 + (i % 5) / 10,
      meterId: `METER-${String(i).padStart(6, '0')}`,
      now: now + i,
    });
    const info: SessionInfo = {
      state: 'Charging',
      charged_energy_wh: 5_000 + i * 17,
      discharged_energy_wh: 0,
      latest_total_w: Math.round(powerW),
      session_duration_s: 1_800 + i,
      timestamp: new Date(now + i).toISOString(),
      selected_protocol: 'IEC61851-1',
    };
    out.push({ topic: BENCH_TOPICS.e2m(moduleId, 'powermeter'), payload: JSON.stringify(meter) });
    out.push({ topic: BENCH_TOPICS.e2m(moduleId, 'session_info'), payload: JSON.stringify(info) });
  });
  return out;
}
