// The module validates with code generated at build time (scripts/validators/generate.ts), never with the
// documents themselves. This test proves the generated code is the contract:
// 1. the files on disk are exactly what the generator makes from the documents and schema.ts in the tree now;
// 2. they give the same verdict, reason and unknown-value note as validators compiled here from our documents,
//    on every example of both EVerest reference releases (and of our own documents), on broken variants of
//    each, and on every sample offered to every channel (most of them invalid there);
// 3. the generated config validator reports the same errors and fills in the same defaults as one compiled
//    from schema.ts, on the shipped configs and broken variants of them.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Parser, fromFile } from '@asyncapi/parser';
import type { AsyncAPIDocumentInterface } from '@asyncapi/parser';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { contractFrom, loadContract, type Contract, type ValidationResult } from '../../src/everest/contract.js';
import { validateConfig } from '../../src/config/generated/config-validator.js';
import { CONTRACT_FILES } from '../../scripts/validators/everest-schemas.js';
import {
  GENERATED_FILES,
  compileConfigValidator,
  compileContractValidators,
  configModuleSource,
  contractModuleSource,
} from '../../scripts/validators/generate.js';
import { isObject, schemaExamples } from '../support/asyncapi-compare.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const referenceRoot = path.resolve(repoRoot, '../shared/reference');
const REFERENCE_FILES = [
  path.join(referenceRoot, 'everest-api-52ff7153d', 'evse_manager_consumer_API', 'asyncapi.yaml'),
  path.join(referenceRoot, 'everest-api-52ff7153d', 'external_energy_limits_consumer_API', 'asyncapi.yaml'),
  path.join(referenceRoot, 'everest-api-2026.02.0', 'evse_manager_consumer_API.yaml'),
  path.join(referenceRoot, 'everest-api-2026.02.0', 'external_energy_limits_consumer_API.yaml'),
];
const referencesPresent = REFERENCE_FILES.every((f) => existsSync(f));

describe('the generated files', () => {
  it('are what the generator makes from the sources in the tree now', async () => {
    // The first line is a hash of the inputs; the rest is the code.
    expect(readFileSync(GENERATED_FILES.contract, 'utf8')).toBe(await contractModuleSource());
    expect(readFileSync(GENERATED_FILES.config, 'utf8')).toBe(configModuleSource());
  });
});

/** A sample payload and where it came from. */
interface Sample {
  from: string;
  value: unknown;
}

/** Variants of a valid value that break it in the usual ways: a field gone, null, the wrong type, an unknown enum value, an extra field. */
function brokenVariants(value: unknown, depth = 0): unknown[] {
  const out: unknown[] = [null, 'Bogus', -1.5, [], {}];
  if (depth >= 3) return out;
  if (isObject(value)) {
    for (const [key, field] of Object.entries(value)) {
      const { [key]: _dropped, ...without } = value;
      out.push(without, { ...value, [key]: null }, { ...value, [key]: 'NotAnEnumValue' }, { ...value, [key]: 12345 });
      for (const inner of brokenVariants(field, depth + 1).slice(5)) out.push({ ...value, [key]: inner });
    }
    out.push({ ...value, x_added_later: 1 });
  } else if (Array.isArray(value) && value.length > 0) {
    out.push([...value, 'Bogus'], ...brokenVariants(value[0], depth + 1).slice(5).map((v) => [v]));
  } else if (typeof value === 'number') {
    out.push(value + 0.5, -value - 1, String(value));
  } else if (typeof value === 'boolean') {
    out.push(String(value), Number(value));
  }
  return out;
}

async function samplesOf(parser: Parser, file: string): Promise<Sample[]> {
  const parsed = await fromFile(parser, file).parse();
  const document: AsyncAPIDocumentInterface | undefined = parsed.document;
  if (!document) throw new Error(`${file} does not parse`);
  const samples: Sample[] = [];
  for (const message of document.allMessages().all()) {
    const values: unknown[] = message.examples().all().map((e) => e.payload());
    values.push(...schemaExamples(message.payload()?.json()).flatMap((n) => n.values));
    for (const value of values) {
      if (value === undefined) continue;
      // A request example is the envelope; its payload alone is a sample for sends and replies too.
      const inner = isObject(value) && 'payload' in value ? [value.payload] : [];
      for (const v of [value, ...inner]) {
        samples.push({ from: `${path.relative(repoRoot, file)} ${message.id()}`, value: v });
        for (const broken of brokenVariants(v)) samples.push({ from: `${path.relative(repoRoot, file)} ${message.id()} (broken)`, value: broken });
      }
    }
  }
  return samples;
}

/** Every validator of a contract, by name. */
function everyCheck(contract: Contract): Array<[string, (data: unknown) => ValidationResult<unknown>]> {
  const limits = contract.externalLimits;
  return [
    ...contract.e2mNames().map((n): [string, (d: unknown) => ValidationResult<unknown>] => [`e2m ${n}`, (d) => contract.validateE2m(n, d)]),
    ...contract.requestNames().flatMap((n): Array<[string, (d: unknown) => ValidationResult<unknown>]> => [
      [`request ${n}`, (d) => contract.validateRequest(n, d)],
      [`request ${n} with envelope`, (d) => contract.validateRequest(n, { headers: { replyTo: 'r' }, payload: d })],
      [`reply ${n}`, (d) => contract.validateReply(n as never, d)],
    ]),
    ...contract.sendNames().map((n): [string, (d: unknown) => ValidationResult<unknown>] => [`send ${n}`, (d) => contract.validateSend(n, d)]),
    ...limits.e2mNames().map((n): [string, (d: unknown) => ValidationResult<unknown>] => [`limits e2m ${n}`, (d) => limits.validateE2m(n, d)]),
    ...limits.sendNames().map((n): [string, (d: unknown) => ValidationResult<unknown>] => [`limits send ${n}`, (d) => limits.validateSend(n, d)]),
  ];
}

describe.skipIf(!referencesPresent)(
  `the generated EVerest contract against validators compiled from the documents${referencesPresent ? '' : ' (skipped: the EVerest references are not in ../shared/reference)'}`,
  () => {
    let generated: Contract;
    let compiled: Contract;
    let samples: Sample[];

    beforeAll(async () => {
      generated = loadContract();
      const fresh = await compileContractValidators();
      compiled = contractFrom(fresh.evse, fresh.limits);
      const parser = new Parser();
      samples = [];
      for (const file of [...REFERENCE_FILES, CONTRACT_FILES.evse, CONTRACT_FILES.limits]) samples.push(...(await samplesOf(parser, file)));
    }, 120_000);

    it('know the same names and version', () => {
      expect(generated.version).toBe(compiled.version);
      expect(generated.e2mNames()).toEqual(compiled.e2mNames());
      expect(generated.requestNames()).toEqual(compiled.requestNames());
      expect(generated.sendNames()).toEqual(compiled.sendNames());
      expect(generated.externalLimits.e2mNames()).toEqual(compiled.externalLimits.e2mNames());
      expect(generated.externalLimits.sendNames()).toEqual(compiled.externalLimits.sendNames());
    });

    it('give the same result for every sample of both releases on every channel, valid or not', () => {
      const mine = everyCheck(generated);
      const theirs = new Map(everyCheck(compiled));
      let accepted = 0;
      let rejected = 0;
      let unknownValues = 0;
      const differences: string[] = [];
      for (const [name, check] of mine) {
        const reference = theirs.get(name);
        if (!reference) throw new Error(`no compiled validator for ${name}`);
        for (const { from, value } of samples) {
          const a = check(value);
          const b = reference(value);
          if (JSON.stringify(a) !== JSON.stringify(b)) differences.push(`${name} on ${from} ${JSON.stringify(value)}: generated ${JSON.stringify(a)}, compiled ${JSON.stringify(b)}`);
          if (a.ok) accepted += 1;
          else rejected += 1;
          if (a.ok && a.unknownValue !== undefined) unknownValues += 1;
        }
      }
      expect(differences.slice(0, 5)).toEqual([]);
      // Both kinds of verdict, and the display-only path, were exercised in earnest.
      expect(samples.length).toBeGreaterThan(1000);
      expect(accepted).toBeGreaterThan(500);
      expect(rejected).toBeGreaterThan(10_000);
      expect(unknownValues).toBeGreaterThan(10);
    });
  });

  describe('the generated config validator against one compiled from schema.ts', () => {
    const shipped = readdirSync(path.join(repoRoot, 'config'))
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => ({ from: f, value: parseYaml(readFileSync(path.join(repoRoot, 'config', f), 'utf8')) as unknown }));

    it('reports the same errors and fills in the same defaults', () => {
      expect(shipped.length).toBeGreaterThanOrEqual(3);
      const compiled = compileConfigValidator();
      const samples = shipped.flatMap(({ from, value }) => [{ from, value }, ...brokenVariants(value).map((v) => ({ from: `${from} (broken)`, value: v }))]);
      let rejected = 0;
      for (const { from, value } of samples) {
        const a = structuredClone(value);
        const b = structuredClone(value);
        const okA = validateConfig(a);
        const okB = compiled(b);
        const errors = (e: typeof compiled.errors) => (e ?? []).map(({ instancePath, keyword, params, message, data }) => ({ instancePath, keyword, params, message, data }));
        expect({ from, ok: okA, errors: errors(validateConfig.errors), data: a }).toEqual({ from, ok: okB, errors: errors(compiled.errors), data: b });
        if (!okA) rejected += 1;
      }
      expect(samples.length).toBeGreaterThan(100);
      expect(rejected).toBeGreaterThan(50);
    });
  },
);
