// Compares our AsyncAPI contract with the upstream EVerest documents when they are present next to the
// repository (../shared/reference/everest-api-52ff7153d). The reference is only read here, never copied.

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Parser, fromFile } from '@asyncapi/parser';
import type { AsyncAPIDocumentInterface } from '@asyncapi/parser';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadContract, type Contract } from '../../src/everest/contract.js';
import { addressOf, compareSchemas, idOf, isObject, schemaExamples, validatorFor } from '../support/asyncapi-compare.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const referenceRoot = path.resolve(repoRoot, '../shared/reference');
const ourFile = path.join(repoRoot, 'asyncapi', 'evse_manager_consumer_API.yaml');

/**
 * The two EVerest releases in the field. Our contract is their union: 2026.02 removed routes that 2025.11
 * chargers still have (src/everest/release.ts), and 2025.11 lacks what 2026.02 added.
 */
const REFERENCES = [
  {
    release: 'everest-api-52ff7153d',
    file: path.join(referenceRoot, 'everest-api-52ff7153d', 'evse_manager_consumer_API', 'asyncapi.yaml'),
    /** Operations we have that this reference does not: later upstream additions. */
    ourAdditions: ['receive_hlc_session_failed'],
    knownDeviations: {
      'send_authorize_response#0': 'field "result.tariff_messages" is required',
    } as Record<string, string>,
    examples: 12,
    minChannels: 41,
  },
  {
    release: 'everest-api-2026.02.0',
    file: path.join(referenceRoot, 'everest-api-2026.02.0', 'evse_manager_consumer_API.yaml'),
    /** What 2025.11 chargers still have and 2026.02 removed (src/everest/release.ts). */
    ourAdditions: [
      'send_request_reserve',
      'receive_reply_reserve',
      'send_request_external_ready_to_start_charging',
      'receive_reply_external_ready_to_start_charging',
      'send_authorize_response',
      'send_withdraw_authorization',
      'send_cancel_reservation',
      'receive_limits',
      'receive_car_manufacturer',
      'receive_waiting_for_external_ready',
      'receive_ready',
    ],
    knownDeviations: {} as Record<string, string>,
    examples: 9,
    minChannels: 35,
  },
];

/*
 * knownDeviations: reference examples that our contract rejects on purpose, with the reason it must give.
 * Where the upstream spec text and EVerest's C++ disagree, the C++ wins:
 * - authorize_response (52ff7153d): the upstream example omits result.tariff_messages, which the upstream
 *   schema marks required and EVerest's JSON codec reads with j.at("tariff_messages"), so EVerest would drop it.
 */

describe.each(REFERENCES)('$release', ({ release, file: referenceFile, ourAdditions, knownDeviations, examples, minChannels }) => {
const present = existsSync(referenceFile);
describe.skipIf(!present)(
  present
    ? `our contract against the EVerest reference ${release}`
    : `EVerest reference not present (${path.relative(repoRoot, referenceFile)}): reference comparison skipped`,
  () => {
    let reference: AsyncAPIDocumentInterface;
    let ours: AsyncAPIDocumentInterface;
    let contract: Contract;

    beforeAll(async () => {
      const parser = new Parser();
      // fromFile sets the source, so the parser resolves the reference's relative file $refs
      // (../powermeter_API/asyncapi.yaml#/..., ../auth_consumer_API/..., ...).
      const parsedReference = await fromFile(parser, referenceFile).parse();
      const referenceErrors = parsedReference.diagnostics.filter((d) => d.severity === 0);
      if (!parsedReference.document) {
        throw new Error(`reference does not parse: ${referenceErrors.map((d) => d.message).join('; ')}`);
      }
      reference = parsedReference.document;
      const parsedOurs = await parser.parse(readFileSync(ourFile, 'utf8'), { source: ourFile });
      if (!parsedOurs.document) throw new Error('our contract does not parse');
      ours = parsedOurs.document;
      contract = loadContract();
    });

    it('resolved the external references of the reference', () => {
      const payload = reference.operations().get('receive_powermeter')?.messages().all()[0]?.payload()?.json();
      expect(isObject(payload) && isObject(payload.properties) && 'energy_Wh_import' in payload.properties).toBe(true);
    });

    it('has every reference operation, with the same action and address', () => {
      const missing: string[] = [];
      for (const op of reference.operations().all()) {
        const mine = ours.operations().get(idOf(op));
        if (!mine) {
          missing.push(idOf(op));
          continue;
        }
        expect({ id: idOf(op), action: mine.action(), address: addressOf(mine), reply: mine.reply() !== undefined }).toEqual({
          id: idOf(op),
          action: op.action(),
          address: addressOf(op),
          reply: op.reply() !== undefined,
        });
      }
      expect(missing).toEqual([]);
      const extra = ours.operations().all().map(idOf).filter((id) => !reference.operations().has(id));
      expect(extra).toEqual(ourAdditions);
    });

    it('has every reference channel address', () => {
      const ourAddresses = new Set(ours.channels().all().map((c) => c.address()));
      const referenceAddresses = reference.channels().all().map((c) => c.address());
      expect(referenceAddresses.length).toBeGreaterThanOrEqual(minChannels);
      expect(referenceAddresses.filter((a) => !ourAddresses.has(a))).toEqual([]);
      // request/reply pairs: the reply channel of each request has no address in both documents
      for (const op of reference.operations().all()) {
        const replyChannel = op.reply()?.channel();
        if (!replyChannel) continue;
        expect(replyChannel.address() ?? null).toBeNull();
        expect(ours.operations().get(idOf(op))?.reply()?.channel()?.address() ?? null).toBeNull();
      }
    });

    it('accepts every example of the reference (message examples and schema examples)', () => {
      let checked = 0;
      const failures: string[] = [];
      for (const op of reference.operations().all()) {
        if (addressOf(op) === null) continue; // reply operations: their messages carry no examples
        const validate = validatorFor(contract, op);
        for (const message of op.messages().all()) {
          const examples: unknown[] = message.examples().all().map((e) => e.payload());
          const nested = schemaExamples(message.payload()?.json());
          expect(nested.filter((n) => n.at !== ''), `${op.id()}: nested schema examples need a dedicated check`).toEqual([]);
          examples.push(...nested.flatMap((n) => n.values));
          examples.forEach((example, index) => {
            checked += 1;
            const result = validate(example);
            const expected = knownDeviations[`${idOf(op)}#${index}`];
            if (expected !== undefined) {
              expect(result, `${op.id()} example ${index} is a known deviation`).toEqual({ ok: false, reason: expected });
            } else if (!result.ok) {
              failures.push(`${op.id()} example ${index}: ${result.reason}`);
            }
          });
        }
      }
      expect(failures).toEqual([]);
      expect(checked).toBe(examples); // message examples of the pinned reference
    });

    it('declares every reference property and accepts every reference enum value, payload by payload', () => {
      const problems: string[] = [];
      for (const op of reference.operations().all()) {
        const mine = ours.operations().get(idOf(op));
        const refMessage = op.messages().all()[0];
        const ourMessage = mine?.messages().all()[0];
        if (!refMessage || !ourMessage) continue;
        compareSchemas(refMessage.payload()?.json(), ourMessage.payload()?.json(), idOf(op), problems);
      }
      expect(problems).toEqual([]);
    });
  },
);
});
