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

export function describeValidation(issues: readonly ValidationIssue[], part: string, root: unknown): string {
  const sentences: string[] = [];
  for (const issue of issues) {
    if (NOISE.has(issue.keyword)) continue;
    const sentence = describeIssue(issue, part, root);
    if (!sentences.includes(sentence)) sentences.push(sentence);
  }
  if (sentences.length === 0) return `${WHOLE_PART[part] ?? part} is invalid`;
  return sentences.join('; ');
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

function shown(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  if (Array.isArray(value)) return `a list ${clip(text)}`;
  if (typeof value === 'object' && value !== null) return 'an object';
  return typeof value === 'string' ? `the string ${clip(text)}` : clip(text);
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}
