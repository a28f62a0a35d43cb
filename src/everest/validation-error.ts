// Error types and reason wording for the EVerest contract (src/everest/contract.ts).

import type { ErrorObject } from 'ajv';
import { describeProblems } from '../validation/describe.js';

/** Thrown at build time (scripts/validators) when an AsyncAPI document cannot be used. `details` lists each problem on its own. */
export class ContractError extends Error {
  override readonly name = 'ContractError';
  readonly details: readonly string[];

  constructor(message: string, details: readonly string[] = []) {
    super(details.length > 0 ? `${message}:\n  - ${details.join('\n  - ')}` : message);
    this.details = details;
  }
}

/**
 * Why a payload failed the contract, in the words every boundary uses (src/validation/describe.ts),
 * e.g. `field "state" must be one of "Unknown", "Unplugged", ...`; the fields are named as dotted paths
 * into the payload.
 */
export function describeValidationErrors(errors: readonly ErrorObject[] | null | undefined): string {
  return describeProblems(errors, { whole: 'the payload' });
}
