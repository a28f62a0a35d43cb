// Error types and reason formatting for the EVerest contract (src/everest/contract.ts).

import type { ErrorObject } from 'ajv';

/** Thrown by loadContract when the AsyncAPI document cannot be used. `details` lists each problem on its own. */
export class ContractError extends Error {
  override readonly name = 'ContractError';
  readonly details: readonly string[];

  constructor(message: string, details: readonly string[] = []) {
    super(details.length > 0 ? `${message}:\n  - ${details.join('\n  - ')}` : message);
    this.details = details;
  }
}

const MAX_ALLOWED_VALUES = 30;

function where(error: ErrorObject): string {
  return error.instancePath === '' ? '/' : error.instancePath;
}

function describeOne(error: ErrorObject): string {
  const message = error.message ?? `fails ${error.keyword}`;
  if (error.keyword === 'enum') {
    const allowed = (error.params as { allowedValues?: unknown[] }).allowedValues;
    if (Array.isArray(allowed)) {
      const shown = allowed.slice(0, MAX_ALLOWED_VALUES).map((v) => (typeof v === 'string' ? v : JSON.stringify(v)));
      const more = allowed.length > MAX_ALLOWED_VALUES ? ', ...' : '';
      return `${message} (${shown.join(', ')}${more})`;
    }
  }
  if (error.keyword === 'additionalProperties') {
    const extra = (error.params as { additionalProperty?: unknown }).additionalProperty;
    if (typeof extra === 'string') return `${message} (${extra})`;
  }
  return message;
}

/**
 * Turns ajv errors into one short reason: the instance path and message of the first error, e.g.
 * `/state must be equal to one of the allowed values (Unknown, Unplugged, ...)`.
 * When the first error sits inside a failed oneOf/anyOf, the alternatives are summarised instead,
 * since "must be integer" alone would hide that an object was acceptable too.
 */
export function describeValidationErrors(errors: readonly ErrorObject[] | null | undefined): string {
  const first = errors?.[0];
  if (!errors || !first) return 'invalid';
  const combinator = errors.find(
    (e) =>
      (e.keyword === 'oneOf' || e.keyword === 'anyOf') &&
      first.schemaPath.startsWith(e.schemaPath + '/') &&
      first.instancePath.startsWith(e.instancePath),
  );
  if (combinator) {
    const branches = errors
      .filter((e) => e !== combinator && e.schemaPath.startsWith(combinator.schemaPath + '/'))
      .map((e) => (e.instancePath === combinator.instancePath ? describeOne(e) : `${where(e)} ${describeOne(e)}`));
    const unique = [...new Set(branches)];
    return `${where(combinator)} ${describeOne(combinator)}${unique.length > 0 ? ` (${unique.join(' | ')})` : ''}`;
  }
  return `${where(first)} ${describeOne(first)}`;
}
