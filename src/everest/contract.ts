// Runtime contract for the EVerest evse_manager_consumer_API and external_energy_limits_consumer_API. The
// validators are code generated at build time (scripts/validators/generate.ts: @asyncapi/parser reads
// asyncapi/*.yaml, ajv's standalone mode writes one function per message schema into
// ./generated/contract-validators.js), so the running module parses no document and compiles no schema.

import type { ErrorObject } from 'ajv';
import type { E2mPayloads, E2mVar, M2eRequest, M2eRequests, M2eSend } from './payloads.js';
import { describeValidationErrors } from './validation-error.js';
import { evse as generatedEvse, limits as generatedLimits } from './generated/contract-validators.js';

export { ContractError } from './validation-error.js';

/**
 * `unknownValue`: the payload of a display-only variable carried a value our contract does not list (an enum
 * value a newer EVerest added); it is delivered anyway and the reason says what was new.
 */
export type ValidationResult<T> = { ok: true; value: T; unknownValue?: string } | { ok: false; reason: string };

export interface Contract {
  /** info.version of the AsyncAPI document. */
  readonly version: string;
  /** Validates a payload received on `e2m/<name>`. Unknown names give `{ok:false, reason:'unknown variable'}`. */
  validateE2m<K extends E2mVar>(name: K, data: unknown): ValidationResult<E2mPayloads[K]>;
  validateE2m(name: string, data: unknown): ValidationResult<unknown>;
  /** Validates the bare reply EVerest publishes on the replyTo topic of request `name`. */
  validateReply<K extends M2eRequest>(name: K, data: unknown): ValidationResult<M2eRequests[K]['reply']>;
  /**
   * Validates a whole request envelope `{headers:{replyTo}, payload?}` (simulator and tests). `name` is an
   * M2eRequest; any other string gives `{ok:false, reason:'unknown request'}`.
   */
  validateRequest(name: M2eRequest | (string & {}), envelope: unknown): ValidationResult<unknown>;
  /** Validates the raw payload of a fire-and-forget command (an M2eSend; others give 'unknown command'). */
  validateSend(name: M2eSend | (string & {}), payload: unknown): ValidationResult<unknown>;
  e2mNames(): readonly string[];
  requestNames(): readonly string[];
  sendNames(): readonly string[];
  /** Parser diagnostics of warning severity and ajv warnings; from the build; the caller decides whether to log them. */
  readonly warnings: readonly string[];
  /** The external_energy_limits_consumer_API, loaded with it. */
  readonly externalLimits: LimitsContract;
}

/** The external_energy_limits_consumer_API: one e2m variable (heartbeat) and two fire-and-forget sends. */
export interface LimitsContract {
  readonly version: string;
  validateE2m(name: string, data: unknown): ValidationResult<unknown>;
  /** set_external_limits (an ExternalLimits object) or communication_check. */
  validateSend(name: string, payload: unknown): ValidationResult<unknown>;
  e2mNames(): readonly string[];
  sendNames(): readonly string[];
  readonly warnings: readonly string[];
}

/** A validator as ajv makes it (compiled or standalone): true or false, and the errors of the last call. */
export interface SchemaCheck {
  (data: unknown): boolean;
  errors?: ErrorObject[] | null;
}

/**
 * What one AsyncAPI document says about validation, by name: the validators of each channel's messages
 * (a payload is valid when one of them accepts it). `T` is a SchemaCheck at run time; the generator lays
 * the set out with export names first.
 */
export interface ValidatorSet<T = SchemaCheck> {
  /** info.version of the document. */
  version: string;
  /** Parser diagnostics of warning severity and ajv warnings, from the build. */
  warnings: readonly string[];
  e2m: Readonly<Record<string, readonly T[]>>;
  /** Display-only variables: the same schemas without enums. */
  lenientE2m: Readonly<Record<string, readonly T[]>>;
  requests: Readonly<Record<string, { readonly request: readonly T[]; readonly reply: readonly T[] }>>;
  sends: Readonly<Record<string, readonly T[]>>;
}

type Check = (data: unknown) => ValidationResult<unknown>;

function toCheck(validators: readonly SchemaCheck[]): Check {
  const [only] = validators;
  if (validators.length === 1 && only) {
    return (data) => (only(data) ? { ok: true, value: data } : { ok: false, reason: describeValidationErrors(only.errors) });
  }
  if (validators.length === 0) return (data) => ({ ok: true, value: data });
  return (data) => {
    let errors: ErrorObject[] | null | undefined;
    for (const v of validators) {
      if (v(data)) return { ok: true, value: data };
      errors ??= v.errors;
    }
    return { ok: false, reason: describeValidationErrors(errors) };
  };
}

interface CompiledContract {
  version: string;
  e2m: Map<string, Check>;
  lenientE2m: Map<string, Check>;
  requests: Map<string, { request: Check; reply: Check }>;
  sends: Map<string, Check>;
}

/** Maps, not the records themselves: a name like `constructor` must not find Object's prototype. */
function checksOf(set: ValidatorSet): CompiledContract {
  const each = (record: Readonly<Record<string, readonly SchemaCheck[]>>) => new Map(Object.entries(record).map(([name, v]) => [name, toCheck(v)]));
  return {
    version: set.version,
    e2m: each(set.e2m),
    lenientE2m: each(set.lenientE2m),
    requests: new Map(Object.entries(set.requests).map(([name, r]) => [name, { request: toCheck(r.request), reply: toCheck(r.reply) }])),
    sends: each(set.sends),
  };
}

function validatorsOf(compiled: CompiledContract) {
  return {
    validateE2m(name: string, data: unknown): ValidationResult<unknown> {
      const check = compiled.e2m.get(name);
      if (!check) return { ok: false, reason: 'unknown variable' };
      const strict = check(data);
      if (strict.ok) return strict;
      const lenient = compiled.lenientE2m.get(name)?.(data);
      return lenient?.ok ? { ok: true, value: lenient.value, unknownValue: strict.reason } : strict;
    },
    validateSend(name: string, payload: unknown): ValidationResult<unknown> {
      const check = compiled.sends.get(name);
      return check ? check(payload) : { ok: false, reason: 'unknown command' };
    },
  };
}

/** The contract made of two validator sets: the generated ones, or (contract tests) ones compiled from the documents. */
export function contractFrom(evseSet: ValidatorSet, limitsSet: ValidatorSet): Contract {
  const compiled = checksOf(evseSet);
  const limits = checksOf(limitsSet);
  const e2mNames = Object.freeze([...compiled.e2m.keys()]);
  const requestNames = Object.freeze([...compiled.requests.keys()]);
  const sendNames = Object.freeze([...compiled.sends.keys()]);
  const { validateE2m: checkE2m, validateSend } = validatorsOf(compiled);
  const limitsE2mNames = Object.freeze([...limits.e2m.keys()]);
  const limitsSendNames = Object.freeze([...limits.sends.keys()]);

  function validateE2m<K extends E2mVar>(name: K, data: unknown): ValidationResult<E2mPayloads[K]>;
  function validateE2m(name: string, data: unknown): ValidationResult<unknown>;
  function validateE2m(name: string, data: unknown): ValidationResult<unknown> {
    return checkE2m(name, data);
  }

  return {
    version: compiled.version,
    validateE2m,
    validateReply<K extends M2eRequest>(name: K, data: unknown): ValidationResult<M2eRequests[K]['reply']> {
      const entry = compiled.requests.get(name);
      if (!entry) return { ok: false, reason: 'unknown request' };
      return entry.reply(data) as ValidationResult<M2eRequests[K]['reply']>;
    },
    validateRequest(name: string, envelope: unknown): ValidationResult<unknown> {
      const entry = compiled.requests.get(name);
      return entry ? entry.request(envelope) : { ok: false, reason: 'unknown request' };
    },
    validateSend,
    e2mNames: () => e2mNames,
    requestNames: () => requestNames,
    sendNames: () => sendNames,
    warnings: evseSet.warnings,
    externalLimits: {
      version: limits.version,
      ...validatorsOf(limits),
      e2mNames: () => limitsE2mNames,
      sendNames: () => limitsSendNames,
      warnings: limitsSet.warnings,
    },
  };
}

let generated: Contract | undefined;

/** The contract of this build (validators generated from asyncapi/*.yaml); made once per process. */
export function loadContract(): Contract {
  generated ??= contractFrom(generatedEvse, generatedLimits);
  return generated;
}
