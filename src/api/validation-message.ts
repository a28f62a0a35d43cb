// How the API names the place of a validation problem, so a client developer can fix the request
// from the status_message alone; the words for what is wrong are src/validation/describe.ts's, the
// same at every boundary.
import { describeProblems, formatPath, type PathSegment, type ValidationIssue } from '../validation/describe.js';

export { MAX_PROBLEMS, type ValidationIssue } from '../validation/describe.js';

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

/**
 * One sentence per distinct problem of one request part ('body', 'params', 'querystring',
 * 'headers'), e.g. `field "connector_id" is required when "by" is "module"`. `root` is the part as
 * received: the identifier form it chose explains a rule that holds for that form only.
 */
export function describeValidation(issues: readonly ValidationIssue[], part: string, root: unknown): string {
  const whole = WHOLE_PART[part] ?? part;
  const noun = PART_NOUN[part] ?? part;
  return describeProblems(issues, {
    whole,
    subject: (segments: readonly PathSegment[]) => (segments.length === 0 ? whole : `${noun} "${formatPath(segments)}"`),
    note: (issue) => (issue.keyword === 'required' || issue.keyword === 'not' ? conditionOf(issue, part, root) : ''),
  });
}

/** Branch-specific rules (the identifier forms of a priority body) only make sense with their condition. */
function conditionOf(issue: ValidationIssue, part: string, root: unknown): string {
  if (part !== 'body' || !issue.schemaPath.includes('/then/')) return '';
  if (typeof root !== 'object' || root === null || Array.isArray(root)) return '';
  const by = (root as Record<string, unknown>).by;
  return typeof by === 'string' ? ` when "by" is ${JSON.stringify(by)}` : '';
}
