// Helpers that compare our AsyncAPI contracts with the upstream EVerest documents (test/contract/).
import type { OperationInterface } from '@asyncapi/parser';
import { expect } from 'vitest';
import type { ValidationResult } from '../../src/everest/contract.js';

type Json = Record<string, unknown>;

export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function idOf(op: OperationInterface): string {
  return op.id() ?? '';
}

export function addressOf(op: OperationInterface): string | null {
  const addresses = op.channels().all().map((c) => c.address() ?? null);
  expect(addresses).toHaveLength(1);
  return addresses[0] ?? null;
}

/** Anything that validates by channel name: the EVSE contract or the limits contract. */
export interface NamedValidators {
  validateE2m(name: string, data: unknown): ValidationResult<unknown>;
  validateSend(name: string, payload: unknown): ValidationResult<unknown>;
  validateRequest?(name: string, envelope: unknown): ValidationResult<unknown>;
}

export function validatorFor(contract: NamedValidators, op: OperationInterface): (data: unknown) => ValidationResult<unknown> {
  const address = addressOf(op);
  if (address === null) throw new Error(`operation ${idOf(op)} has no address`);
  const [direction, name = ''] = address.split('/');
  if (direction === 'e2m') return (data) => contract.validateE2m(name, data);
  const validateRequest = contract.validateRequest?.bind(contract);
  if (op.reply() && validateRequest) return (data) => validateRequest(name, data);
  return (data) => contract.validateSend(name, data);
}

/** `examples` keywords anywhere inside a schema, with their JSON path (cycles guarded). */
export function schemaExamples(schema: unknown, at = '', seen = new Set<unknown>()): Array<{ at: string; values: unknown[] }> {
  if (!isObject(schema) || seen.has(schema)) return [];
  seen.add(schema);
  const found: Array<{ at: string; values: unknown[] }> = [];
  if (Array.isArray(schema.examples)) found.push({ at, values: schema.examples });
  if (schema.example !== undefined) found.push({ at, values: [schema.example] });
  for (const key of ['properties', 'patternProperties', 'definitions', '$defs']) {
    const map = schema[key];
    if (isObject(map)) for (const [k, sub] of Object.entries(map)) found.push(...schemaExamples(sub, `${at}/${key}/${k}`, seen));
  }
  for (const key of ['items', 'additionalProperties', 'not', 'if', 'then', 'else', 'contains']) {
    found.push(...schemaExamples(schema[key], `${at}/${key}`, seen));
  }
  for (const key of ['allOf', 'anyOf', 'oneOf']) {
    const list = schema[key];
    if (Array.isArray(list)) list.forEach((sub, i) => found.push(...schemaExamples(sub, `${at}/${key}/${i}`, seen)));
  }
  return found;
}

/** Object view of a schema: its own properties and enum merged with those of allOf members. */
export function flatten(schema: unknown): { properties: Record<string, unknown>; enumValues?: unknown[]; items?: unknown; alternatives: unknown[] } {
  const properties: Record<string, unknown> = {};
  let enumValues: unknown[] | undefined;
  let items: unknown;
  const alternatives: unknown[] = [];
  const visit = (node: unknown): void => {
    if (!isObject(node)) return;
    if (isObject(node.properties)) Object.assign(properties, node.properties);
    if (Array.isArray(node.enum)) enumValues = node.enum;
    if (node.items !== undefined) items = node.items;
    if (Array.isArray(node.allOf)) node.allOf.forEach(visit);
    for (const key of ['oneOf', 'anyOf']) if (Array.isArray(node[key])) alternatives.push(...(node[key] as unknown[]));
  };
  visit(schema);
  return { properties, ...(enumValues ? { enumValues } : {}), items, alternatives };
}

/**
 * Walks a reference schema and ours side by side. Reports reference properties we do not declare and
 * reference enum values we do not accept (case-sensitive).
 */
export function compareSchemas(reference: unknown, ours: unknown, at: string, problems: string[], seen = new Set<unknown>()): void {
  if (!isObject(reference) || seen.has(reference)) return;
  seen.add(reference);
  const ref = flatten(reference);
  const our = flatten(ours);
  const ourEnums = [our, ...our.alternatives.map(flatten)].flatMap((s) => s.enumValues ?? []);
  for (const value of ref.enumValues ?? []) {
    if (!ourEnums.includes(value)) problems.push(`${at || '/'}: enum value ${JSON.stringify(value)} missing`);
  }
  for (const [name, sub] of Object.entries(ref.properties)) {
    const candidates = [our, ...our.alternatives.map(flatten)].map((s) => s.properties[name]).filter((s) => s !== undefined);
    if (candidates.length === 0) problems.push(`${at}/${name}: property not declared`);
    else compareSchemas(sub, candidates[0], `${at}/${name}`, problems, seen);
  }
  if (ref.items !== undefined) compareSchemas(ref.items, our.items, `${at}/items`, problems, seen);
}
