// Turns ajv errors into one sentence that names the field and what was expected, so a client
// developer can fix the request from the status_message alone.

/** The parts of an ajv ErrorObject used here (fastify passes them through as `error.validation`). */
export interface ValidationIssue {
  keyword: string;
  instancePath: string;
  schemaPath: string;
  params: Record<string, unknown>;
  message?: string;
  /** Present because the request validators run with ajv's `verbose`. */
  data?: unknown;
  parentSchema?: unknown;
}

const PART_NOUN: Record<string, string> = {
  body: 'field',
  params: 'path parameter',
  querystring: 'query parameter',
  headers: 'header',
};

const WHOLE_PART: Record<string, string> = {
  body: 'the request body',
  params: 'the path',
  querystring: 'the query string',
  headers: 'the headers',
};

const TYPE_WORDS: Record<string, string> = {
  integer: 'an integer',
  number: 'a number',
  string: 'a string',
  boolean: 'true or false',
  object: 'a JSON object',
  array: 'a JSON array',
  null: 'null',
};

/** Wrapper keywords whose failure is always accompanied by the specific error underneath. */
const NOISE = new Set(['if', 'allOf', 'anyOf', 'oneOf']);

/** Problems spelled out at most; the rest are counted, so a body with 10 000 unknown fields gets a short answer. */
export const MAX_PROBLEMS = 10;

/**
 * One sentence per distinct problem, joined with "; ". Linear in the number of issues and capped in
 * size whatever the request holds: only the first MAX_PROBLEMS distinct problems are described.
 */
export function describeValidation(issues: readonly ValidationIssue[], part: string, root: unknown): string {
  const sentences = new Set<string>();
  let more = 0;
  for (const issue of issues) {
    if (NOISE.has(issue.keyword)) continue;
    if (sentences.size >= MAX_PROBLEMS) {
      more += 1;
      continue;
    }
    sentences.add(describeIssue(issue, part, root));
  }
  if (sentences.size === 0) return `${WHOLE_PART[part] ?? part} is invalid`;
  const text = [...sentences].join('; ');
  return more > 0 ? `${text}; and ${more} more problem${more === 1 ? '' : 's'}` : text;
}

function describeIssue(issue: ValidationIssue, part: string, root: unknown): string {
  const segments = pathSegments(issue.instancePath);
  const { params } = issue;
  if (issue.keyword === 'required') segments.push(String(params.missingProperty));
  if (issue.keyword === 'additionalProperties') segments.push(String(params.additionalProperty));
  const subject = segments.length === 0 ? WHOLE_PART[part] ?? part : `${PART_NOUN[part] ?? part} "${segments.join('.')}"`;
  const when = conditionOf(issue, part, root);
  switch (issue.keyword) {
    case 'required':
      return `${subject} is required${when}`;
    case 'additionalProperties':
      return `${subject} is not a known field`;
    case 'not':
      return `${subject} is not allowed${when}`;
    case 'type': {
      const expected = String(params.type)
        .split(',')
        .map((t) => TYPE_WORDS[t] ?? t)
        .join(' or ');
      return `${subject} must be ${expected} (got ${shown(issue.data)})`;
    }
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return `${subject} must be ${range(issue)} (got ${shown(issue.data)})`;
    case 'enum': {
      const allowed = Array.isArray(params.allowedValues) ? params.allowedValues.map((v) => JSON.stringify(v)).join(', ') : '';
      return `${subject} must be one of ${allowed} (got ${shown(issue.data)})`;
    }
    case 'const':
      return `${subject} must be ${JSON.stringify(params.allowedValue)} (got ${shown(issue.data)})`;
    case 'minLength':
      return params.limit === 1 ? `${subject} must not be empty` : `${subject} must be at least ${String(params.limit)} characters long`;
    case 'maxLength':
      return `${subject} must be at most ${String(params.limit)} characters long`;
    case 'pattern':
      return `${subject} must match ${String(params.pattern)} (got ${shown(issue.data)})`;
    case 'format':
      return `${subject} must be a valid ${String(params.format)} (got ${shown(issue.data)})`;
    default:
      return `${subject} ${issue.message ?? `fails ${issue.keyword}`}`;
  }
}

function pathSegments(instancePath: string): string[] {
  if (instancePath === '') return [];
  return instancePath
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** Branch-specific rules (the identifier forms of a priority body) only make sense with their condition. */
function conditionOf(issue: ValidationIssue, part: string, root: unknown): string {
  if (part !== 'body' || !issue.schemaPath.includes('/then/')) return '';
  if (typeof root !== 'object' || root === null || Array.isArray(root)) return '';
  const by = (root as Record<string, unknown>).by;
  return typeof by === 'string' ? ` when "by" is ${JSON.stringify(by)}` : '';
}

function range(issue: ValidationIssue): string {
  const schema = issue.parentSchema;
  if (typeof schema === 'object' && schema !== null) {
    const { minimum, maximum, type } = schema as Record<string, unknown>;
    if (typeof minimum === 'number' && typeof maximum === 'number') {
      return `${type === 'integer' ? 'an integer' : 'a number'} from ${minimum} to ${maximum}`;
    }
  }
  return `${String(issue.params.comparison)} ${String(issue.params.limit)}`;
}

const CLIP = 40;

function shown(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return `a list ${clip(boundedJson(value, CLIP + 1))}`;
  if (typeof value === 'object' && value !== null) return 'an object';
  if (typeof value === 'string') return `the string ${clip(JSON.stringify(value.slice(0, CLIP + 1)))}`;
  return clip(JSON.stringify(value));
}

function clip(text: string): string {
  return text.length > CLIP ? `${text.slice(0, CLIP - 3)}...` : text;
}

/**
 * JSON text of a value, cut once `budget` characters are written: the same as JSON.stringify for
 * small values, and never a walk over all of a huge or deeply nested one.
 */
function boundedJson(value: unknown, budget: number): string {
  let out = '';
  const write = (v: unknown): void => {
    if (out.length > budget) return;
    if (Array.isArray(v)) {
      out += '[';
      for (let i = 0; i < v.length && out.length <= budget; i++) {
        if (i > 0) out += ',';
        write(v[i]);
      }
      out += ']';
    } else if (typeof v === 'object' && v !== null) {
      out += '{';
      let first = true;
      for (const key of Object.keys(v)) {
        if (out.length > budget) break;
        if (!first) out += ',';
        first = false;
        out += `${JSON.stringify(key.slice(0, budget))}:`;
        write((v as Record<string, unknown>)[key]);
      }
      out += '}';
    } else if (typeof v === 'string') {
      out += JSON.stringify(v.slice(0, budget));
    } else {
      out += JSON.stringify(v) ?? 'null';
    }
  };
  write(value);
  return out;
}
