import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifySchema, FastifySchemaCompiler } from 'fastify';

// Two ajv instances instead of fastify's default one: the default coerces body types ("5" -> 5) and
// strips unknown fields, which would accept requests the documented schema rejects. Path, query
// and header values arrive as strings, so only those parts may be coerced.
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

// Compiled once per schema object and ajv: the same shared schema serves several routes.
const caches = new Map<Ajv, WeakMap<object, ValidateFunction>>([
  [bodyAjv, new WeakMap()],
  [stringPartsAjv, new WeakMap()],
]);

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

export const validatorCompiler: FastifySchemaCompiler<FastifySchema> = ({ schema, httpPart }) =>
  compileValidator(schema as object, httpPart);
