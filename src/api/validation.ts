import { Ajv, type ValidateFunction } from 'ajv';
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

/** The validator of one request part ('body', 'params', 'querystring', 'headers'); compiled on first use. */
export function compileValidator(schema: object, httpPart: string | undefined): ValidateFunction {
  const ajv = httpPart === 'body' ? bodyAjv : stringPartsAjv;
  const cache = caches.get(ajv) ?? new WeakMap<object, ValidateFunction>();
  let compiled = cache.get(schema);
  if (!compiled) {
    compiled = ajv.compile(schema);
    cache.set(schema, compiled);
  }
  return compiled;
}

export type BodyCheck<T> = { ok: true; value: T } | { ok: false; reason: string };

/** Validates a parsed request body (defaults filled in place) and says what is wrong in the API's words. */
export function checkBody<T>(validate: ValidateFunction, body: unknown): BodyCheck<T> {
  if (validate(body)) return { ok: true, value: body as T };
  return { ok: false, reason: describeValidation((validate.errors ?? []) as ValidationIssue[], 'body', body) };
}
