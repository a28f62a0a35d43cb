import type { PriorityRecord } from '../../priorities/model.js';
import { invalidParameters, preconditionFailed } from './envelope.js';

export type IfMatch = { kind: 'any' } | { kind: 'tags'; versions: number[] };

export function etagOf(version: number): string {
  return `"${version}"`;
}

const ENTITY_TAG = /^(W\/)?"([^"]*)"$/;

/** Parses If-Match (RFC 9110 §13.1.1); undefined when absent. Throws a 400 on malformed syntax. */
export function parseIfMatch(header: string | undefined): IfMatch | undefined {
  if (header === undefined) return undefined;
  const value = header.trim();
  if (value === '*') return { kind: 'any' };
  const versions: number[] = [];
  for (const part of value.split(',')) {
    const tag = ENTITY_TAG.exec(part.trim());
    if (!tag) throw invalidParameters('header "If-Match" must be "*" or a list of quoted ETags such as "3" (with the quotes)');
    // If-Match uses strong comparison: a weak tag never matches, neither does one we never issued.
    const opaque = tag[2] ?? '';
    if (tag[1] === undefined && /^[1-9][0-9]*$/.test(opaque)) versions.push(Number(opaque));
  }
  return { kind: 'tags', versions };
}

/**
 * The version the store must still find when it writes (so a concurrent write in between also fails
 * with 412), or a 412 right away when the current record already does not match.
 */
export function requireMatch(ifMatch: IfMatch, current: PriorityRecord | undefined, key: string): number {
  if (current && (ifMatch.kind === 'any' || ifMatch.versions.includes(current.version))) return current.version;
  const wanted = ifMatch.kind === 'any' ? '*' : ifMatch.versions.map(etagOf).join(', ') || '(no usable ETag)';
  throw preconditionFailed(
    current
      ? `If-Match ${wanted} does not match the current version ${etagOf(current.version)} of ${key}`
      : `If-Match ${wanted} but no priority is assigned to ${key}`,
  );
}
