import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { describeValidation, type ValidationIssue } from './validation-message.js';

// The API's trust boundary (HTTP and our MQTT topics) validates with these two ajv instances only.
// Fastify's default ajv coerces body types ("5" -> 5) and strips unknown fields, which would accept
// requests the documented schema rejects; so bodies are never coerced. Path, query and header values
// arrive as strings, so only those parts may be coerced.
function makeAjv(coerce: boolean): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    verbose: true,
    coerceTypes: coerce,
    removeAdditional: false,
    useDefaults: true,
    strict: true,
  });
  addFormatsModule.default(ajv, ['date-time', 'uri']);
  return ajv;
}

const bodyAjv = makeAjv(false);
const stringPartsAjv = makeAjv(true);

// Compiled once per schema object and ajv: the same shared schema serves several routes and topics.
const caches = new Map<Ajv, WeakMap<object, ValidateFunction>>([
  [bodyAjv, new WeakMap()],
  [stringPartsAjv, new WeakMap()],
]);

/** What fastify and checkBody call: true or false, and the errors of the last call. */
export interface RequestValidator {
  (data: unknown): boolean;
  errors?: ErrorObject[] | null;
}

/**
 * The validator of one request part ('body', 'params', 'querystring', 'headers'). Every route and MQTT
 * request registers its validators at start-up; compiling them there held up the first communication check
 * by a few hundred ms (bench:startup), so each is compiled once, on its first call, and cached.
 */
export function compileValidator(schema: object, httpPart: string | undefined): RequestValidator {
  const ajv = httpPart === 'body' ? bodyAjv : stringPartsAjv;
  const cache = caches.get(ajv) ?? new WeakMap<object, ValidateFunction>();
  let compiled = cache.get(schema);
  const validator: RequestValidator = (data) => {
    if (!compiled) {
      compiled = cache.get(schema) ?? ajv.compile(schema);
      cache.set(schema, compiled);
    }
    const valid = compiled(data);
    validator.errors = compiled.errors;
    return valid;
  };
  return validator;
}

export type BodyCheck<T> = { ok: true; value: T } | { ok: false; reason: string };

/** Validates a parsed request body (defaults filled in place) and says what is wrong in the API's words. */
export function checkBody<T>(validate: RequestValidator, body: unknown): BodyCheck<T> {
  if (validate(body)) return { ok: true, value: body as T };
  return { ok: false, reason: describeValidation((validate.errors ?? []) as ValidationIssue[], 'body', body) };
}
