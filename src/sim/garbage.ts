import type { E2mVar } from '../everest/payloads.js';

export interface GarbageMessage {
  /** An e2m variable name, or a full topic when it contains a slash. */
  target: string;
  payload: string;
}

/** Variables whose payload is a JSON string: a number is the wrong type there. */
const STRING_VARS: ReadonlySet<string> = new Set(['evse_id', 'selected_protocol', 'powermeter_public_key_ocmf', 'car_manufacturer', 'dc_mode']);

/** What a broken or future EVerest might publish: unparseable JSON and payloads that break the schema. */
export function garbageMessages(target?: string): GarbageMessage[] {
  if (target !== undefined) {
    return [
      { target, payload: '{"truncated": ' },
      { target, payload: STRING_VARS.has(target) ? '42' : '"garbage"' },
    ];
  }
  const defaults: Array<[E2mVar, string]> = [
    ['session_event', '{"uuid":"garbage","event":"NotAnEvent","timestamp":"2025-01-01T00:00:00Z"}'],
    ['session_info', '{"state": "Charging", "charged_energy_wh": '],
    ['powermeter', '{"timestamp":"2025-01-01T00:00:00Z"}'],
    ['heartbeat', '"beat"'],
    ['limits', '{"max_current":"16"}'],
    ['evse_id', '42'],
  ];
  return defaults.map(([name, payload]) => ({ target: name, payload }));
}
