import { DERIVED_DEFAULT, schemaTree } from './schema.js';
import type { SchemaNode } from './schema.js';
import { ENV_PREFIX, HTTP_TOKEN_ENV } from './load.js';

export interface KeyDescription {
  /** Dotted path; `[]` marks "each element of the list". */
  path: string;
  type: string;
  /** Markdown for the default: a literal in backticks, a derived rule, `required`, or `—` (unset). */
  default: string;
  /** The env var that overrides the key, if any. */
  env?: string;
  /** How the env var acts when it does not simply replace the value. */
  envNote?: string;
  description: string;
}

function typeText(node: SchemaNode): string {
  if (node.enum !== undefined) return `one of ${node.enum.map((v) => `\`${String(v)}\``).join(', ')}`;
  const type = node.type ?? 'any';
  if (type === 'array') {
    const itemType = node.items?.type;
    return itemType === undefined ? 'list' : itemType === 'object' ? 'list of objects' : `list of ${itemType}s`;
  }
  if (node.minimum !== undefined && node.maximum !== undefined) return `${type} ${node.minimum}..${node.maximum}`;
  if (node.minimum !== undefined) return `${type} ≥ ${node.minimum}`;
  if (node.exclusiveMinimum !== undefined) return `${type} > ${node.exclusiveMinimum}`;
  if (node.maximum !== undefined) return `${type} ≤ ${node.maximum}`;
  if (node.format !== undefined) return `${type} (${node.format})`;
  return type;
}

function defaultText(node: SchemaNode, required: boolean): string {
  const derived = node[DERIVED_DEFAULT];
  if (derived !== undefined) return derived;
  if (node.default !== undefined && node.type !== 'object') return `\`${JSON.stringify(node.default)}\``;
  return required ? 'required' : '—';
}

function isScalar(node: SchemaNode): boolean {
  return node.type === 'string' || node.type === 'number' || node.type === 'integer' || node.type === 'boolean';
}

interface WalkState {
  path: string;
  /** Undefined inside lists: their elements cannot be named by an env var. */
  envPath: string[] | undefined;
  required: boolean;
}

function walk(node: SchemaNode, state: WalkState, emitSelf: boolean, out: KeyDescription[]): void {
  // A section that defaults to {} is a heading, not a key anyone sets as a whole.
  const isSection = node.type === 'object' && node.default !== undefined;
  if (emitSelf && state.path !== '' && !isSection) {
    const row: KeyDescription = {
      path: state.path,
      type: node.type === 'object' ? 'object' : typeText(node),
      default: defaultText(node, state.required),
      description: node.description ?? '',
    };
    if (state.envPath !== undefined && isScalar(node)) row.env = ENV_PREFIX + state.envPath.join('_').toUpperCase();
    if (state.path === 'http.tokens') {
      row.env = HTTP_TOKEN_ENV;
      row.envNote = 'appends one token';
    }
    out.push(row);
  }
  if (node.type === 'object' && node.properties !== undefined) {
    const required = new Set(node.required ?? []);
    for (const [key, child] of Object.entries(node.properties)) {
      walk(
        child,
        {
          path: state.path === '' ? key : `${state.path}.${key}`,
          envPath: state.envPath === undefined ? undefined : [...state.envPath, key],
          required: required.has(key) && child.default === undefined,
        },
        true,
        out,
      );
    }
  } else if (node.type === 'array' && node.items?.type === 'object') {
    walk(node.items, { path: `${state.path}[]`, envPath: undefined, required: false }, false, out);
  }
}

/** Every key of the configuration schema with type, default, env var and description. */
export function describeConfigKeys(): KeyDescription[] {
  const out: KeyDescription[] = [];
  walk(schemaTree, { path: '', envPath: [], required: false }, false, out);
  return out;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** The configuration reference as a Markdown table, for the README. */
export function describeConfigMarkdown(): string {
  const rows = describeConfigKeys().map((r) => {
    const env = r.env === undefined ? '' : `\`${r.env}\`${r.envNote === undefined ? '' : ` (${r.envNote})`}`;
    return `| \`${r.path}\` | ${cell(r.type)} | ${cell(r.default)} | ${env} | ${cell(r.description)} |`;
  });
  return ['| Key | Type | Default | Env | Description |', '| --- | --- | --- | --- | --- |', ...rows].join('\n') + '\n';
}
