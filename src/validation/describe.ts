// The one way a validation failure is put into words, at every trust boundary: EVerest's payloads
// (everest/contract.ts), the configuration (config/load.ts), and our HTTP and MQTT APIs
// (api/validation.ts). Each boundary says how it names a place ("field", "query parameter", a config
// key path) and may hide values; what is wrong is worded here, the same everywhere:
//   field "priority" must be an integer from -9 to 9 (got 10); field "extra" is not a known field
// The input is untrusted (a request with 10 000 unknown fields, a value nested 100 000 deep), so the
// message is built in one pass over the errors and is capped in size whatever the input holds.

/** The parts of an ajv ErrorObject used here; `data` and `parentSchema` are there when ajv runs `verbose`. */
export interface ValidationIssue {
  keyword: string;
  instancePath: string;
  schemaPath: string;
  params: Record<string, unknown>;
  message?: string;
  data?: unknown;
  parentSchema?: unknown;
}

/** A key of an object or an index of a list, on the way from the root to the value at fault. */
export type PathSegment = string | number;

/** One distinct problem: where (segments) and what (text, without the subject). */
export interface Problem {
  segments: PathSegment[];
  /** e.g. `must be an integer from 1 to 255 (got 0)`, `is required`, `is not a known field`. */
  text: string;
  /** The key itself is at fault (an unknown field), not its value. */
  atKey: boolean;
}

export interface DescribeOptions {
  /** How the place is named in a sentence; by default `field "a.b[0]"`, or `whole` at the root. */
  subject?: (segments: readonly PathSegment[]) => string;
  /** The subject when the value as a whole is at fault (default `the value`). */
  whole?: string;
  /** Words for an offending value, e.g. to hide secrets; undefined falls back to `shownValue`. */
  show?: (value: unknown, segments: readonly PathSegment[]) => string | undefined;
  /** Words appended to a problem: the condition its rule applies under, a "did you mean". */
  note?: (issue: ValidationIssue, segments: readonly PathSegment[]) => string;
}

/** A schema may word its pattern for people (`must start with http:// or https://`) under this keyword. */
export const PATTERN_TEXT = 'x-pattern-text';

/** Problems spelled out at most; the rest are counted, so a body with 10 000 unknown fields gets a short answer. */
export const MAX_PROBLEMS = 10;
/** Allowed values listed at most for an enum. */
const MAX_ALLOWED_VALUES = 30;
/** Branches of a oneOf/anyOf spelled out at most for one value. */
const MAX_ALTERNATIVES = 5;
/** Characters of an offending value shown at most. */
const CLIP = 40;

const TYPE_WORDS: Record<string, string> = {
  integer: 'an integer',
  number: 'a number',
  string: 'a string',
  boolean: 'true or false',
  object: 'an object',
  array: 'a list',
  null: 'null',
};

/**
 * Wrapper keywords whose failure always comes with the specific error underneath ("must match exactly
 * one schema in oneOf" says less than the branches' own errors, which are joined with "or" instead).
 */
const WRAPPERS = new Set(['if', 'allOf', 'anyOf', 'oneOf']);

/** The distinct problems, in the order ajv found them, at most MAX_PROBLEMS; `more` counts the rest. */
export function listProblems(issues: readonly ValidationIssue[], options: DescribeOptions = {}): { problems: Problem[]; more: number } {
  // A value of the wrong type also fails its enum, range or pattern: the type error says it all.
  const wrongType = new Set<string>();
  for (const issue of issues) if (issue.keyword === 'type') wrongType.add(`${issue.instancePath}\u0000${parentOf(issue.schemaPath)}`);

  const problems: Problem[] = [];
  const seen = new Set<string>();
  // The first problem found in each branch of a oneOf/anyOf at one place; a problem of another branch joins it with "or".
  const alternatives = new Map<string, { problem: Problem; branch: string; types: string[] | undefined; count: number }>();
  let more = 0;
  for (const issue of issues) {
    if (WRAPPERS.has(issue.keyword)) continue;
    if (issue.keyword !== 'type' && wrongType.has(`${issue.instancePath}\u0000${parentOf(issue.schemaPath)}`)) continue;
    const choice = combinatorOf(issue.schemaPath);
    const place = choice === undefined ? undefined : `${issue.instancePath}\u0000${choice.at}`;
    const earlier = place === undefined ? undefined : alternatives.get(place);
    if (earlier !== undefined && choice !== undefined && earlier.branch !== choice.branch) {
      earlier.branch = choice.branch;
      earlier.count += 1;
      if (earlier.count > MAX_ALTERNATIVES) {
        if (earlier.count === MAX_ALTERNATIVES + 1) earlier.problem.text += ', or ...';
      } else if (issue.keyword === 'type' && earlier.types !== undefined) {
        // "must be an integer or an object (got ...)" rather than two sentences about one value.
        earlier.types.push(...typeNames(issue));
        earlier.problem.text = describeIssue(issue, options, earlier.types);
      } else {
        earlier.types = undefined;
        earlier.problem.text += `, or ${describeIssue(issue, options)}`;
      }
      continue;
    }
    const problem = toProblem(issue, options);
    const key = `${problem.segments.join('\u0000')}\u0001${problem.text}`;
    if (seen.has(key)) continue;
    if (problems.length >= MAX_PROBLEMS) {
      more += 1;
      continue;
    }
    seen.add(key);
    problems.push(problem);
    if (place !== undefined && choice !== undefined) {
      alternatives.set(place, { problem, branch: choice.branch, types: issue.keyword === 'type' ? typeNames(issue) : undefined, count: 1 });
    }
  }
  return { problems, more };
}

/** One sentence per distinct problem, joined with "; ", e.g. `field "priority" must be an integer (got the string "1")`. */
export function describeProblems(issues: readonly ValidationIssue[] | null | undefined, options: DescribeOptions = {}): string {
  const whole = options.whole ?? 'the value';
  const subject = options.subject ?? ((segments: readonly PathSegment[]) => (segments.length === 0 ? whole : `field "${formatPath(segments)}"`));
  const { problems, more } = listProblems(issues ?? [], options);
  if (problems.length === 0) return `${whole} is invalid`;
  const text = problems.map((p) => `${subject(p.segments)} ${p.text}`).join('; ');
  return more > 0 ? `${text}; ${moreProblems(more)}` : text;
}

/** `and 3 more problems`: what a capped list says about the rest. */
export function moreProblems(count: number): string {
  return `and ${count} more problem${count === 1 ? '' : 's'}`;
}

/** `evses[2].module_id`: keys joined with dots, list indexes in brackets. */
export function formatPath(segments: readonly PathSegment[]): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else out += out === '' ? s : `.${s}`;
  }
  return out;
}

/** The segments of a JSON pointer (`/evses/2/module_id`); all-digit segments are list indexes. */
export function pointerSegments(instancePath: string): PathSegment[] {
  if (instancePath === '') return [];
  return instancePath
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** An offending value as a message shows it: its kind and first characters, never a walk over all of it. */
export function shownValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return `a list ${clip(boundedJson(value, CLIP + 1))}`;
  if (typeof value === 'object' && value !== null) return 'an object';
  if (typeof value === 'string') return `the string ${clip(JSON.stringify(value.slice(0, CLIP + 1)))}`;
  return clip(JSON.stringify(value) ?? String(value));
}

function toProblem(issue: ValidationIssue, options: DescribeOptions): Problem {
  const segments = pointerSegments(issue.instancePath);
  const { params } = issue;
  if (issue.keyword === 'required') segments.push(String(params.missingProperty));
  if (issue.keyword === 'additionalProperties') segments.push(String(params.additionalProperty));
  const note = options.note?.(issue, segments) ?? '';
  return { segments, text: describeIssue(issue, options) + note, atKey: issue.keyword === 'additionalProperties' };
}

function describeIssue(issue: ValidationIssue, options: DescribeOptions, types?: readonly string[]): string {
  const { params } = issue;
  // Without ajv's `verbose` the value is not known, and a message says nothing rather than "got nothing".
  const got = (): string => {
    if (!('data' in issue)) return '';
    const segments = pointerSegments(issue.instancePath);
    return ` (got ${options.show?.(issue.data, segments) ?? shownValue(issue.data)})`;
  };
  switch (issue.keyword) {
    case 'required':
      return 'is required';
    case 'additionalProperties':
      return 'is not a known field';
    case 'not':
      return 'is not allowed';
    case 'type':
      return `must be ${(types ?? typeNames(issue)).map((t) => TYPE_WORDS[t] ?? t).join(' or ')}${got()}`;
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return `must be ${range(issue)}${got()}`;
    case 'enum': {
      const allowed = Array.isArray(params.allowedValues) ? params.allowedValues : [];
      const listed = allowed.slice(0, MAX_ALLOWED_VALUES).map((v) => clip(JSON.stringify(v) ?? String(v)));
      return `must be one of ${listed.join(', ')}${allowed.length > MAX_ALLOWED_VALUES ? ', ...' : ''}${got()}`;
    }
    case 'const':
      return `must be ${clip(JSON.stringify(params.allowedValue) ?? String(params.allowedValue))}${got()}`;
    case 'minLength':
      return params.limit === 1 ? 'must not be empty' : `must be at least ${String(params.limit)} characters long`;
    case 'maxLength':
      return `must be at most ${String(params.limit)} characters long`;
    case 'minItems':
      return `must have at least ${String(params.limit)} entr${params.limit === 1 ? 'y' : 'ies'}`;
    case 'maxItems':
      return `must have at most ${String(params.limit)} entr${params.limit === 1 ? 'y' : 'ies'}`;
    case 'uniqueItems':
      return `must not repeat entries (entries ${String(params.j)} and ${String(params.i)} are equal)`;
    case 'pattern': {
      const words = schemaWords(issue.parentSchema);
      return `${words ?? `must match ${String(params.pattern)}`}${got()}`;
    }
    case 'format':
      return `must be a valid ${String(params.format)}${got()}`;
    default:
      return issue.message ?? `fails ${issue.keyword}`;
  }
}

function typeNames(issue: ValidationIssue): string[] {
  return String(issue.params.type).split(',');
}

function schemaWords(schema: unknown): string | undefined {
  if (typeof schema !== 'object' || schema === null) return undefined;
  const words = (schema as Record<string, unknown>)[PATTERN_TEXT];
  return typeof words === 'string' ? words : undefined;
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

/** `#/properties/x/type` -> `#/properties/x`: the schema that holds the failed keyword. */
function parentOf(schemaPath: string): string {
  const cut = schemaPath.lastIndexOf('/');
  return cut < 0 ? schemaPath : schemaPath.slice(0, cut);
}

/** The innermost oneOf/anyOf a schema path runs through, and which of its branches. */
function combinatorOf(schemaPath: string): { at: string; branch: string } | undefined {
  const match = /^(.*\/(?:oneOf|anyOf))\/(\d+)\//.exec(schemaPath);
  return match === null ? undefined : { at: match[1] ?? '', branch: match[2] ?? '' };
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
      // for-in stops where the budget does; Object.keys would first list every key of a huge object.
      for (const key in v) {
        if (out.length > budget) break;
        if (!Object.hasOwn(v, key)) continue;
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
