/**
 * Validators compiled from the upstream EVerest AsyncAPI documents in ../shared/reference (not part of
 * the project). Cross-file $refs are resolved by registering every document under a synthetic base URI
 * and letting ajv follow relative references between them.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import AjvModule from 'ajv';
import type { ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { parse as parseYaml } from 'yaml';

const Ajv = AjvModule.default;
const addFormats = addFormatsModule.default;

const here = path.dirname(fileURLToPath(import.meta.url));
/** The two upstream releases in ../shared/reference: 2025.11 chargers run 52ff7153d's API, 2026.02 its own. */
export const REFERENCE_RELEASES = { '2025.11': 'everest-api-52ff7153d', '2026.02': 'everest-api-2026.02.0' } as const;
export type ReferenceRelease = keyof typeof REFERENCE_RELEASES;
export const REFERENCE_ROOT = path.resolve(here, '../../../shared/reference', REFERENCE_RELEASES['2025.11']);
const BASE = 'https://reference.invalid/';

/**
 * Where an API's document lives: 52ff7153d has one folder per API (`<api>/asyncapi.yaml`), 2026.02 one file
 * per API (`<api>.yaml`). Relative $refs between documents resolve the same way in both layouts.
 */
function documentsOf(root: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const entry of readdirSync(root)) {
    const nested = path.join(root, entry, 'asyncapi.yaml');
    if (existsSync(nested)) found.set(entry, `${entry}/asyncapi.yaml`);
    else if (entry.endsWith('.yaml')) found.set(entry.replace(/\.yaml$/, ''), entry);
  }
  return found;
}

export interface ReferenceValidators {
  /** undefined when valid, else the ajv error text. */
  e2m(name: string, data: unknown): string | undefined;
  reply(request: string, data: unknown): string | undefined;
  request(request: string, envelope: unknown): string | undefined;
}

export type ReferenceLoad = { ok: true; validators: ReferenceValidators } | { ok: false; reason: string };

interface Channel {
  address?: string | null;
  messages?: Record<string, { $ref?: string }>;
}
interface Operation {
  channel?: { $ref?: string };
  reply?: { channel?: { $ref?: string } };
}
interface AsyncApiDoc {
  channels?: Record<string, Channel>;
  operations?: Record<string, Operation>;
}

export interface ReferenceOptions {
  /** Default 2025.11 (the 52ff7153d reference). */
  release?: ReferenceRelease;
  /** Default evse_manager_consumer_API. */
  api?: string;
}

export function loadReferenceValidators({ release = '2025.11', api = 'evse_manager_consumer_API' }: ReferenceOptions = {}): ReferenceLoad {
  const root = path.resolve(here, '../../../shared/reference', REFERENCE_RELEASES[release]);
  if (!existsSync(root)) return { ok: false, reason: `reference not present at ${root}` };
  const documents = documentsOf(root);
  const mainFile = documents.get(api);
  if (mainFile === undefined) return { ok: false, reason: `reference ${root} has no ${api}` };
  const ajv = new Ajv({ strict: false, allErrors: false, validateSchema: false });
  addFormats(ajv);
  for (const file of documents.values()) {
    // Only components hold schemas; the rest of an AsyncAPI document (id, info, ...) is not JSON Schema.
    const { components } = parseYaml(readFileSync(path.join(root, file), 'utf8')) as { components?: unknown };
    ajv.addSchema({ components }, `${BASE}${file}`);
  }
  const doc = parseYaml(readFileSync(path.join(root, mainFile), 'utf8')) as AsyncApiDoc;
  const mainId = `${BASE}${mainFile}`;
  const cache = new Map<string, ValidateFunction>();
  const compile = (messageRef: string): ValidateFunction => {
    let fn = cache.get(messageRef);
    if (!fn) {
      fn = ajv.compile({ $ref: `${mainId}${messageRef}/payload` });
      cache.set(messageRef, fn);
    }
    return fn;
  };
  const messageOf = (channelRef: string | undefined): string | undefined => {
    const key = channelRef?.replace('#/channels/', '');
    const channel = key ? doc.channels?.[key] : undefined;
    return Object.values(channel?.messages ?? {})[0]?.$ref;
  };
  const byAddress = (address: string): string | undefined => {
    const entry = Object.entries(doc.channels ?? {}).find(([, c]) => c.address === address);
    return entry ? messageOf(`#/channels/${entry[0]}`) : undefined;
  };
  const check = (ref: string | undefined, what: string, data: unknown): string | undefined => {
    if (!ref) return `reference has no ${what}`;
    const fn = compile(ref);
    return fn(data) ? undefined : `${what}: ${ajv.errorsText(fn.errors)}`;
  };
  const replyRef = (request: string): string | undefined => {
    const op = Object.values(doc.operations ?? {}).find((o) => messageOf(o.channel?.$ref) === byAddress(`m2e/${request}`) && o.reply);
    return messageOf(op?.reply?.channel?.$ref);
  };
  return {
    ok: true,
    validators: {
      e2m: (name, data) => check(byAddress(`e2m/${name}`), `e2m/${name}`, data),
      request: (name, envelope) => check(byAddress(`m2e/${name}`), `m2e/${name}`, envelope),
      reply: (name, data) => check(replyRef(name), `reply to ${name}`, data),
    },
  };
}
