import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import AjvModule from 'ajv';
import type { ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadContract, type Contract } from '../../../src/everest/contract.js';
import {
  LIMITS_SOURCE,
  externalLimitsMessage,
  failsafeCurrentA,
  failsafeLimitsMessage,
  importCurrentAt,
} from '../../../src/everest/external-limits.js';

const referenceRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../shared/reference');
/** Both EVerest releases in the field: API 1.0.0 at commit 52ff7153d and release 2026.02.0. */
const REFERENCES = [
  path.join(referenceRoot, 'everest-api-52ff7153d', 'external_energy_limits_consumer_API', 'asyncapi.yaml'),
  path.join(referenceRoot, 'everest-api-2026.02.0', 'external_energy_limits_consumer_API.yaml'),
];
const presentReferences = REFERENCES.filter((file) => existsSync(file));

/** The reference's own ExternalLimits schema, compiled with ajv (formats checked in full). */
function referenceValidator(file: string): ValidateFunction {
  const ajv = new AjvModule.default({ strict: false, allErrors: true });
  addFormatsModule.default(ajv);
  const { components } = parseYaml(readFileSync(file, 'utf8')) as { components: unknown };
  ajv.addSchema({ components }, 'https://reference.invalid/limits.yaml');
  return ajv.compile({ $ref: 'https://reference.invalid/limits.yaml#/components/schemas/ExternalLimits' });
}

const NOW = Date.parse('2026-03-02T10:00:00.000Z');

describe('externalLimitsMessage', () => {
  it('puts the current in force now and the fail-safe current failsafeS later; the other schedules empty', () => {
    const message = externalLimitsMessage({ currentA: 13.4, now: NOW, failsafeS: 60, failsafeCurrentA: 9.5 });
    expect(message).toEqual({
      schedule_import: [
        {
          timestamp: '2026-03-02T10:00:00.000Z',
          limits_to_root: { ac_max_current_A: { value: 13.4, source: 'evse_priority' } },
          limits_to_leaves: {},
        },
        {
          timestamp: '2026-03-02T10:01:00.000Z',
          limits_to_root: { ac_max_current_A: { value: 9.5, source: 'evse_priority' } },
          limits_to_leaves: {},
        },
      ],
      schedule_export: [],
      schedule_setpoints: [],
    });
    expect(LIMITS_SOURCE).toBe('evse_priority');
  });

  it('in force: the first entry at once (even before its timestamp), the fail-safe from its timestamp on, for ever', () => {
    const message = externalLimitsMessage({ currentA: 16, now: NOW, failsafeS: 60, failsafeCurrentA: 7 });
    expect(importCurrentAt(message, NOW - 5_000)).toBe(16);
    expect(importCurrentAt(message, NOW + 59_999)).toBe(16);
    expect(importCurrentAt(message, NOW + 60_000)).toBe(7);
    expect(importCurrentAt(message, NOW + 86_400_000)).toBe(7);
    expect(importCurrentAt(failsafeLimitsMessage(NOW, 7), NOW)).toBe(7);
    expect(importCurrentAt({ schedule_import: [], schedule_export: [], schedule_setpoints: [] }, NOW)).toBeUndefined();
  });

  it('the default fail-safe current shares the budget equally over the limited EVSEs at 3 phases, rounded down', () => {
    expect(failsafeCurrentA({ configuredA: undefined, maxPowerW: 22_000, nominalVoltageV: 230, limitedEvses: 3 })).toBe(10.6);
    expect(failsafeCurrentA({ configuredA: undefined, maxPowerW: 9_000, nominalVoltageV: 230, limitedEvses: 2 })).toBe(6.5);
    expect(failsafeCurrentA({ configuredA: 0, maxPowerW: 22_000, nominalVoltageV: 230, limitedEvses: 3 })).toBe(0);
    expect(failsafeCurrentA({ configuredA: undefined, maxPowerW: 22_000, nominalVoltageV: 230, limitedEvses: 0 })).toBe(0);
  });
});

describe('what we send validates', () => {
  let contract: Contract;
  const samples = [
    externalLimitsMessage({ currentA: 13, now: NOW, failsafeS: 60, failsafeCurrentA: 10.6 }),
    externalLimitsMessage({ currentA: 0, now: NOW + 123, failsafeS: 0.5, failsafeCurrentA: 0 }),
    failsafeLimitsMessage(NOW, 6),
  ];

  beforeAll(async () => {
    contract = loadContract();
  });

  it('against our contract', () => {
    for (const sample of samples) expect(contract.externalLimits.validateSend('set_external_limits', sample)).toEqual({ ok: true, value: sample });
    expect(contract.externalLimits.validateSend('set_external_limits', { schedule_import: [], schedule_export: [] })).toMatchObject({ ok: false });
    expect(contract.externalLimits.validateSend('communication_check', true)).toMatchObject({ ok: true });
    expect(contract.externalLimits.validateE2m('heartbeat', 7)).toMatchObject({ ok: true });
    expect(contract.externalLimits.validateE2m('heartbeat', 'x')).toMatchObject({ ok: false });
  });

  describe.skipIf(presentReferences.length === 0)(
    presentReferences.length === 0 ? 'against the EVerest references (not present in ../shared/reference: skipped)' : 'against the EVerest references',
    () => {
      it.each(presentReferences.map((file) => [path.relative(referenceRoot, file), file]))('%s', (_name, file) => {
        const validate = referenceValidator(file);
        for (const sample of samples) {
          expect(validate(sample), JSON.stringify(validate.errors)).toBe(true);
        }
        // The reference schema really checks: a value without its source is refused there too.
        const broken = structuredClone(samples[0]);
        delete (broken?.schedule_import[0]?.limits_to_root.ac_max_current_A as { source?: string }).source;
        expect(validate(broken)).toBe(false);
      });
    },
  );
});
