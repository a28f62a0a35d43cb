// Hostile e2m traffic (bench:soak, test/reliability/e2m-fuzz.test.ts): what a broken, future or malicious EVerest peer could publish on
// the topics the module subscribes to. The simulator's garbage (src/sim/garbage.ts) plus the shapes the
// issue-13 attack used: deep nesting, huge strings, prototype names, wrong types, binary.
import { E2M_VARS } from '../../src/everest/payloads.js';
import { garbageMessages } from '../../src/sim/garbage.js';

const deepObject = (n: number): string => '{"a":'.repeat(n) + '1' + '}'.repeat(n);
const deepArray = (n: number): string => '['.repeat(n) + ']'.repeat(n);

const HOSTILE_PAYLOADS: readonly (string | Buffer)[] = [
  deepObject(5_000),
  deepArray(20_000),
  `"${'x'.repeat(60_000)}"`,
  `{"state":"Charging","charged_energy_wh":1e400,"__proto__":{"polluted":true}}`,
  '{"constructor":{"prototype":{"polluted":true}}}',
  '{"uuid":"u","event":"SessionStarted","timestamp":"not a time","session_started":{"reason":"EVConnected"}}',
  'null',
  '[]',
  '',
  '-0',
  '1e309',
  '"\\ud800"',
  Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28]),
];

/** Variable names no EVerest publishes, prototype names among them. */
const FOREIGN_VARS = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'not_a_var'];

export interface FuzzMessage {
  /** The e2m variable (last topic segment). */
  variable: string;
  payload: string | Buffer;
}

/** Every hostile message once, in a fixed order; the bench cycles through it across EVSEs. */
export function fuzzDeck(): FuzzMessage[] {
  const deck: FuzzMessage[] = garbageMessages().map((g) => ({ variable: g.target, payload: g.payload }));
  for (const variable of E2M_VARS) {
    for (const g of garbageMessages(variable)) deck.push({ variable, payload: g.payload });
    for (const payload of HOSTILE_PAYLOADS) deck.push({ variable, payload });
  }
  for (const variable of FOREIGN_VARS) for (const payload of ['{}', deepObject(1_000)]) deck.push({ variable, payload });
  return deck;
}
