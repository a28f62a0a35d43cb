import { readFileSync } from 'node:fs';
import { LineCounter, isMap, isPair, isScalar, isSeq, parseDocument } from 'yaml';
import type { Node as YamlNode } from 'yaml';
import { schemaTree } from './schema.js';
import { validateConfig } from './generated/config-validator.js';
import { formatPath, listProblems, moreProblems, shownValue, type PathSegment, type ValidationIssue } from '../validation/describe.js';
import type { SchemaNode } from './schema.js';
import { REDACTED, isSecretKey, redactSecrets } from '../log/redact.js';
import type { Config, ConfigFile, DeepPartial } from './types.js';

/** One thing wrong with the configuration, named by its dotted key path. */
export interface ConfigIssue {
  /** Dotted key path such as `evses[2].module_id`; empty for the document as a whole. */
  path: string;
  /** What was expected, in plain words. */
  message: string;
  /** Where the bad value came from: `file:line:column`, an env var name, or `overrides`. */
  source?: string;
  line?: number;
  column?: number;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';

  constructor(
    readonly issues: readonly ConfigIssue[],
    readonly file?: string,
  ) {
    super(
      `Invalid configuration${file === undefined ? '' : ` in ${file}`}:\n` +
        issues.map((i) => `  - ${i.path === '' ? '' : `${i.path}: `}${i.message}${i.source === undefined ? '' : ` (${i.source})`}`).join('\n'),
    );
  }
}

export interface LoadConfigOptions {
  /** YAML file; without it the configuration is built from defaults, env and overrides. */
  file?: string;
  /** Defaults to `process.env`; pass `{}` to ignore the environment. */
  env?: NodeJS.ProcessEnv;
  /** Applied last, over file and env (for CLI flags and tests). Arrays replace, objects merge. */
  overrides?: DeepPartial<Config>;
}

export const ENV_PREFIX = 'EVSE_PRIORITY_';
/** Appends one token instead of replacing the list, so a secret can come from the environment alone. */
export const HTTP_TOKEN_ENV = `${ENV_PREFIX}HTTP_TOKEN`;

// Generated from configSchema at build time (scripts/validators/generate.ts): no schema is compiled at start-up.
const validate = validateConfig;

type Segment = PathSegment;
type PlainObject = Record<string, unknown>;

function isPlainObject(value: unknown): value is PlainObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// ---------------------------------------------------------------- env overrides

interface EnvLeaf {
  name: string;
  path: string[];
  node: SchemaNode;
}

function collectLeaves(node: SchemaNode, path: string[], out: EnvLeaf[]): EnvLeaf[] {
  if (node.type === 'object' && node.properties !== undefined) {
    for (const [key, child] of Object.entries(node.properties)) collectLeaves(child, [...path, key], out);
  } else if (node.type === 'string' || node.type === 'number' || node.type === 'integer' || node.type === 'boolean') {
    out.push({ name: ENV_PREFIX + path.join('_').toUpperCase(), path, node });
  }
  // Arrays are left out: an env var cannot say which element it means (HTTP_TOKEN is the exception).
  return out;
}

const envLeaves: readonly EnvLeaf[] = collectLeaves(schemaTree, [], []);

/** Every env var the loader reads, for the README. */
export function envOverrideNames(): string[] {
  return [...envLeaves.map((l) => l.name), HTTP_TOKEN_ENV];
}

/** `EVSE_PRIORITY_*` variables that match no key: likely typos, worth a warning from the caller. */
export function unrecognisedEnvNames(env: NodeJS.ProcessEnv = process.env): string[] {
  const known = new Set(envOverrideNames());
  return Object.keys(env).filter((k) => k.startsWith(ENV_PREFIX) && !known.has(k));
}

const TRUE_WORDS = new Set(['true', '1', 'yes', 'on']);
const FALSE_WORDS = new Set(['false', '0', 'no', 'off']);

function coerceEnv(leaf: EnvLeaf, raw: string): { value: unknown } | { error: string } {
  if (leaf.node.type === 'string') return { value: raw };
  const text = raw.trim();
  if (leaf.node.type === 'boolean') {
    const lower = text.toLowerCase();
    if (TRUE_WORDS.has(lower)) return { value: true };
    if (FALSE_WORDS.has(lower)) return { value: false };
    return { error: `must be true or false (got ${shownValue(raw)})` };
  }
  const n = Number(text);
  if (!Number.isFinite(n)) return { error: `must be a number (got ${shownValue(raw)})` };
  if (leaf.node.type === 'integer' && !Number.isInteger(n)) return { error: `must be an integer (got ${shownValue(raw)})` };
  return { value: n };
}

function setIn(target: PlainObject, path: readonly string[], value: unknown): void {
  let cursor = target;
  for (const key of path.slice(0, -1)) {
    const next = cursor[key];
    if (isPlainObject(next)) cursor = next;
    else {
      const created: PlainObject = {};
      cursor[key] = created;
      cursor = created;
    }
  }
  const last = path[path.length - 1];
  if (last !== undefined) cursor[last] = value;
}

function applyEnv(target: PlainObject, env: NodeJS.ProcessEnv, issues: ConfigIssue[], envByPath: Map<string, string>): void {
  for (const leaf of envLeaves) {
    const raw = env[leaf.name];
    if (raw === undefined) continue;
    // Compose files often pass unset variables as empty strings; only a string key can mean "".
    if (raw.trim() === '' && leaf.node.type !== 'string') continue;
    const dotted = formatPath(leaf.path);
    const result = coerceEnv(leaf, raw);
    if ('error' in result) {
      issues.push({ path: dotted, message: result.error, source: leaf.name });
      continue;
    }
    setIn(target, leaf.path, result.value);
    envByPath.set(dotted, leaf.name);
  }
  const token = env[HTTP_TOKEN_ENV];
  if (token !== undefined && token !== '') {
    const http = isPlainObject(target.http) ? target.http : {};
    // A non-list http.tokens in the file is left alone so validation reports it.
    if (http.tokens !== undefined && !Array.isArray(http.tokens)) return;
    target.http = http;
    const existing = Array.isArray(http.tokens) ? http.tokens : [];
    http.tokens = [...existing, token];
    envByPath.set(formatPath(['http', 'tokens', existing.length]), HTTP_TOKEN_ENV);
  }
}

// ---------------------------------------------------------------- merging

/** YAML writes an empty section (`mqtt:` with every child commented out) as null; treat it as absent. */
function dropNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropNulls);
  if (!isPlainObject(value)) return value;
  const out: PlainObject = {};
  for (const [k, v] of Object.entries(value)) if (v !== null) out[k] = dropNulls(v);
  return out;
}

/** Layers one partial configuration over another the way the loader layers its sources (arrays replaced). */
export function mergeConfig(base: DeepPartial<Config>, over: DeepPartial<Config>): DeepPartial<Config> {
  return deepMerge(base as PlainObject, over as PlainObject) as DeepPartial<Config>;
}

function deepMerge(base: PlainObject, over: PlainObject): PlainObject {
  const out: PlainObject = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    const current = out[k];
    out[k] = isPlainObject(v) && isPlainObject(current) ? deepMerge(current, v) : v;
  }
  return out;
}

// ---------------------------------------------------------------- YAML

interface ParsedFile {
  data: PlainObject;
  /** Position of the value at `segments` (of its key with `atKey`), or of its nearest ancestor present in the file. */
  locate: (segments: readonly Segment[], atKey: boolean) => { line: number; column: number } | undefined;
}

function readYaml(file: string): ParsedFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const message =
      code === 'ENOENT' ? `config file not found: ${file}` : `cannot read config file ${file}: ${(err as Error).message}`;
    throw new ConfigError([{ path: '', message, source: file }], file);
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        const firstLine = (e.message.split('\n')[0] ?? e.message).replace(/ at line \d+, column \d+:?$/, '');
        return {
          path: '',
          message: `YAML syntax error: ${firstLine}`,
          source: pos === undefined ? file : `${file}:${pos.line}:${pos.col}`,
          ...(pos === undefined ? {} : { line: pos.line, column: pos.col }),
        };
      }),
      file,
    );
  }
  const js: unknown = doc.toJS();
  if (js !== null && js !== undefined && !isPlainObject(js)) {
    throw new ConfigError([{ path: '', message: 'the file must contain a mapping of keys (mqtt:, evses:, ...)', source: file }], file);
  }
  const data = isPlainObject(js) ? js : {};

  const locate = (segments: readonly Segment[], atKey: boolean): { line: number; column: number } | undefined => {
    let node: unknown = doc.contents;
    let found: YamlNode | undefined;
    for (const [index, seg] of segments.entries()) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
        if (pair === undefined) break;
        // The key is the better anchor when the value is empty or the key itself is the problem.
        found = isScalar(pair.key) ? pair.key : found;
        node = pair.value;
        if (atKey && index === segments.length - 1) break;
        if ((isScalar(node) || isMap(node) || isSeq(node)) && node.range != null && node.range[0] !== node.range[1]) found = node;
      } else if (isSeq(node) && typeof seg === 'number') {
        const item = node.items[seg];
        if (!(isScalar(item) || isMap(item) || isSeq(item))) break;
        found = item;
        node = item;
      } else break;
    }
    const offset = found?.range?.[0];
    if (offset === undefined) return undefined;
    const pos = lineCounter.linePos(offset);
    return { line: pos.line, column: pos.col };
  };
  return { data, locate };
}

// ---------------------------------------------------------------- ajv errors in plain words

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] ?? 0;
      row[j] = Math.min(above + 1, (row[j - 1] ?? 0) + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length] ?? 0;
}

function suggest(unknown: string, candidates: readonly string[]): string {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(unknown.toLowerCase(), c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(unknown.length / 3)) ? `; did you mean "${best}"?` : '';
}

/** The offending value as an error message may show it: secrets hidden, URL passwords masked. */
function shown(value: unknown, segments: readonly Segment[]): string {
  if (segments.some((s) => typeof s === 'string' && isSecretKey(s))) return REDACTED;
  return shownValue(redactSecrets(value));
}

/** An unknown key close to a known one is most likely a typo of it. */
function didYouMean(issue: ValidationIssue): string {
  if (issue.keyword !== 'additionalProperties') return '';
  const schema = issue.parentSchema;
  const known = isPlainObject(schema) && isPlainObject(schema.properties) ? Object.keys(schema.properties) : [];
  return suggest(String(issue.params.additionalProperty), known);
}

/** The schema's failures as issues (worded by src/validation/describe.ts), located in their source. */
function schemaIssues(errors: readonly ValidationIssue[], sourceOf: (segments: readonly Segment[], atKey: boolean) => Pick<ConfigIssue, 'source' | 'line' | 'column'>): ConfigIssue[] {
  const { problems, more } = listProblems(errors, { show: shown, note: didYouMean });
  const issues: ConfigIssue[] = problems.map((p) => ({ path: formatPath(p.segments), message: p.text, ...sourceOf(p.segments, p.atKey) }));
  if (more > 0) issues.push({ path: '', message: moreProblems(more) });
  return issues;
}

// ---------------------------------------------------------------- cross-field checks

function crossChecks(config: ConfigFile): { segments: Segment[]; message: string }[] {
  const out: { segments: Segment[]; message: string }[] = [];
  const ev = config.everest;
  if (ev.communication_check_interval_ms >= ev.communication_check_timeout_s * 1000) {
    out.push({
      segments: ['everest', 'communication_check_interval_ms'],
      message:
        `everest.communication_check_interval_ms (${ev.communication_check_interval_ms}) must be below ` +
        `everest.communication_check_timeout_s (${ev.communication_check_timeout_s} s = ${ev.communication_check_timeout_s * 1000} ms), ` +
        'or EVerest raises a CommunicationFault between two checks',
    });
  }
  if (config.mqtt.reconnect_max_ms >= ev.communication_check_timeout_s * 1000) {
    out.push({
      segments: ['mqtt', 'reconnect_max_ms'],
      message:
        `mqtt.reconnect_max_ms (${config.mqtt.reconnect_max_ms}) must be below everest.communication_check_timeout_s ` +
        `(${ev.communication_check_timeout_s * 1000} ms): after a broker outage EVerest raises a CommunicationFault while we still wait to reconnect`,
    });
  }
  if (config.mqtt.reconnect_min_ms > config.mqtt.reconnect_max_ms) {
    out.push({
      segments: ['mqtt', 'reconnect_min_ms'],
      message: `mqtt.reconnect_min_ms (${config.mqtt.reconnect_min_ms}) must not exceed mqtt.reconnect_max_ms (${config.mqtt.reconnect_max_ms})`,
    });
  }
  const tls = config.mqtt.tls;
  if (tls !== undefined && (tls.cert_file === undefined) !== (tls.key_file === undefined)) {
    out.push({
      segments: ['mqtt', 'tls', tls.cert_file === undefined ? 'cert_file' : 'key_file'],
      message: 'mqtt.tls.cert_file and mqtt.tls.key_file must be given together',
    });
  }
  const fwd = config.forwarding;
  if (fwd.url !== undefined) {
    // Without any of these every request would be refused: better to say so at start-up.
    for (const key of ['token_url', 'client_id', 'client_secret', 'api_key'] as const) {
      if (fwd[key] === undefined) {
        out.push({ segments: ['forwarding', key], message: `is required when forwarding.url is set (forwarding.${key})` });
      }
    }
  }
  // Each of these identifies an EVSE in priority requests, so a repeat would make a request ambiguous.
  for (const key of ['module_id', 'serial_number', 'charge_box_identity'] as const) {
    const seen = new Map<string, number>();
    config.evses.forEach((evse, index) => {
      const value = evse[key];
      if (value === undefined) return;
      const first = seen.get(value);
      if (first === undefined) seen.set(value, index);
      else {
        out.push({
          segments: ['evses', index, key],
          message: `duplicate ${key} "${value}" (also evses[${first}].${key})`,
        });
      }
    });
  }
  // An EVSE module and a limits module with one id would share a topic namespace in no EVerest config;
  // two EVSEs on one limits module would overwrite each other's limit (last writer wins).
  const evseIndex = new Map(config.evses.map((evse, index) => [evse.module_id, index]));
  const limitsSeen = new Map<string, number>();
  config.evses.forEach((evse, index) => {
    const id = evse.limits_module_id;
    if (id === undefined) return;
    const first = limitsSeen.get(id);
    const clash = evseIndex.get(id);
    if (first !== undefined) {
      out.push({
        segments: ['evses', index, 'limits_module_id'],
        message: `duplicate limits_module_id "${id}" (also evses[${first}].limits_module_id): each EVSE needs its own EnergyNode and limits module`,
      });
    } else limitsSeen.set(id, index);
    if (clash !== undefined) {
      out.push({
        segments: ['evses', index, 'limits_module_id'],
        message: `limits_module_id "${id}" is the module_id of evses[${clash}]: the external_energy_limits_consumer_API module has its own id`,
      });
    }
  });
  const limits = config.limits;
  if (limits.refresh_s * 2 > limits.failsafe_s) {
    out.push({
      segments: ['limits', 'refresh_s'],
      message:
        `limits.refresh_s (${limits.refresh_s}) must be at most half of limits.failsafe_s (${limits.failsafe_s}), ` +
        'or one lost refresh lets the fail-safe current take over while evse-priority is running',
    });
  }
  return out;
}

// ---------------------------------------------------------------- loadConfig

/** Defaults < file < env < overrides; throws ConfigError listing every issue found. */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const { file, env = process.env, overrides } = options;
  const parsed = file === undefined ? undefined : readYaml(file);
  const issues: ConfigIssue[] = [];
  const envByPath = new Map<string, string>();
  const overridePaths = new Set<string>();

  let data = dropNulls(parsed?.data ?? {}) as PlainObject;
  applyEnv(data, env, issues, envByPath);
  if (overrides !== undefined) {
    // Cloned so that ajv's default-filling never writes into the caller's objects.
    const cloned = structuredClone(overrides) as PlainObject;
    collectPaths(cloned, [], overridePaths);
    data = deepMerge(data, cloned);
  }

  const sourceOf = (segments: readonly Segment[], atKey = false): Pick<ConfigIssue, 'source' | 'line' | 'column'> => {
    const dotted = formatPath(segments);
    if (overridePaths.has(dotted)) return { source: 'overrides' };
    const envName = envByPath.get(dotted);
    if (envName !== undefined) return { source: envName };
    if (parsed === undefined || file === undefined) return {};
    const pos = parsed.locate(segments, atKey);
    return pos === undefined ? { source: file } : { source: `${file}:${pos.line}:${pos.column}`, ...pos };
  };

  if (issues.length === 0 && !validate(data)) issues.push(...schemaIssues(validate.errors ?? [], sourceOf));
  if (issues.length > 0) throw new ConfigError(inFileOrder(issues), file);

  const valid = data as unknown as ConfigFile;
  const cross = crossChecks(valid);
  if (cross.length > 0) {
    throw new ConfigError(
      inFileOrder(cross.map((c) => ({ path: formatPath(c.segments), message: c.message, ...sourceOf(c.segments) }))),
      file,
    );
  }

  const { namespace, ...rest } = valid;
  return {
    namespace: namespace ?? `evse_priority/${rest.instance}`,
    ...rest,
    mqtt: { ...rest.mqtt, client_id: rest.mqtt.client_id ?? `evse-priority-${rest.instance}` },
  };
}

/** Issues with a file position come first, top to bottom, as a reader fixes them; the rest keep their order. */
function inFileOrder(issues: ConfigIssue[]): ConfigIssue[] {
  const located = issues.filter((i) => i.line !== undefined);
  located.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
  return [...located, ...issues.filter((i) => i.line === undefined)];
}

function collectPaths(value: unknown, segments: Segment[], out: Set<string>): void {
  if (segments.length > 0) out.add(formatPath(segments));
  if (Array.isArray(value)) value.forEach((v, i) => collectPaths(v, [...segments, i], out));
  else if (isPlainObject(value)) for (const [k, v] of Object.entries(value)) collectPaths(v, [...segments, k], out);
}
