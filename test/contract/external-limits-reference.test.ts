// Compares our external_energy_limits_consumer_API contract with the upstream EVerest documents of both
// releases in the field, when they are present next to the repository (../shared/reference). The
// references are only read here, never copied.

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Parser, fromFile } from '@asyncapi/parser';
import type { AsyncAPIDocumentInterface } from '@asyncapi/parser';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadContract, type LimitsContract } from '../../src/everest/contract.js';
import { CONTRACT_FILES } from '../../scripts/validators/everest-schemas.js';
import { addressOf, compareSchemas, idOf, schemaExamples, validatorFor } from '../support/asyncapi-compare.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const referenceRoot = path.resolve(repoRoot, '../shared/reference');
const REFERENCES = [
  { release: 'everest-api-52ff7153d', file: path.join(referenceRoot, 'everest-api-52ff7153d', 'external_energy_limits_consumer_API', 'asyncapi.yaml') },
  { release: 'everest-api-2026.02.0', file: path.join(referenceRoot, 'everest-api-2026.02.0', 'external_energy_limits_consumer_API.yaml') },
];

let ours: AsyncAPIDocumentInterface;
let contract: LimitsContract;
const parser = new Parser();

beforeAll(async () => {
  const parsed = await fromFile(parser, CONTRACT_FILES.limits).parse();
  if (!parsed.document) throw new Error('our limits contract does not parse');
  ours = parsed.document;
  contract = loadContract().externalLimits;
});

for (const { release, file } of REFERENCES) {
  const present = existsSync(file);
  describe.skipIf(!present)(
    present
      ? `our external_energy_limits_consumer_API contract against the EVerest reference ${release}`
      : `EVerest reference ${release} not present (${path.relative(repoRoot, file)}): comparison skipped`,
    () => {
      let reference: AsyncAPIDocumentInterface;

      beforeAll(async () => {
        const parsed = await fromFile(parser, file).parse();
        if (!parsed.document) throw new Error(`reference ${release} does not parse`);
        reference = parsed.document;
      });

      it('has exactly the reference operations, with the same action and address', () => {
        const shape = (doc: AsyncAPIDocumentInterface) =>
          doc
            .operations()
            .all()
            .map((op) => ({ id: idOf(op), action: op.action(), address: addressOf(op), reply: op.reply() !== undefined }))
            .sort((a, b) => a.id.localeCompare(b.id));
        expect(shape(ours)).toEqual(shape(reference));
        expect(shape(reference).map((o) => o.address)).toEqual(['e2m/heartbeat', 'm2e/communication_check', 'm2e/set_external_limits']);
      });

      it('accepts every example of the reference', () => {
        // Read from the YAML as written: 52ff7153d puts the set_external_limits example beside a $ref
        // inside the payload, where the parser's dereferencing drops it.
        const raw = parseYaml(readFileSync(file, 'utf8')) as {
          components: { messages: Record<string, { examples?: Array<{ payload: unknown }>; payload?: { examples?: Array<{ payload: unknown }> } }> };
        };
        const failures: string[] = [];
        let checked = 0;
        for (const op of reference.operations().all()) {
          const validate = validatorFor(contract, op);
          for (const message of op.messages().all()) {
            const written = raw.components.messages[message.id()];
            const examples: unknown[] = [...(written?.examples ?? []), ...(written?.payload?.examples ?? [])].map((e) => e.payload);
            examples.push(...schemaExamples(message.payload()?.json()).flatMap((n) => n.values));
            for (const example of examples) {
              checked += 1;
              const result = validate(example);
              if (!result.ok) failures.push(`${idOf(op)}: ${result.reason}`);
            }
          }
        }
        expect(failures).toEqual([]);
        expect(checked).toBe(3); // set_external_limits, heartbeat, communication_check
      });

      it('declares every reference property, payload by payload', () => {
        const problems: string[] = [];
        for (const op of reference.operations().all()) {
          const refMessage = op.messages().all()[0];
          const ourMessage = ours.operations().get(idOf(op))?.messages().all()[0];
          expect(ourMessage, idOf(op)).toBeDefined();
          compareSchemas(refMessage?.payload()?.json(), ourMessage?.payload()?.json(), idOf(op), problems);
        }
        expect(problems).toEqual([]);
      });

      it('requires what the reference requires, so nothing we accept is refused upstream', () => {
        const required = (doc: AsyncAPIDocumentInterface, name: string): string[] => {
          const schema = doc.components().schemas().get(name)?.json() as { required?: string[] } | undefined;
          return [...(schema?.required ?? [])].sort();
        };
        const pairs: Array<[string, string]> = [
          ['ExternalLimits', 'ExternalLimits'],
          ['ScheduleReqEntry', 'ScheduleReqEntry'],
          ['NumberWithSource', 'NumberWithSource'],
          ['IntegerWithSource', 'IntegerWithSource'],
          ['ScheduleSetpointEntry', 'ScheduleSetpointEntry'],
          ['SetpointType', 'Setpoint'],
          ['PricePerkWh', 'PricePerKwh'],
        ];
        for (const [theirs, mine] of pairs) {
          expect(required(reference, theirs).length, theirs).toBeGreaterThan(0);
          expect(required(ours, mine), `${theirs} / ${mine}`).toEqual(required(reference, theirs));
        }
      });
    },
  );
}
