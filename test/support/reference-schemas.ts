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
export const REFERENCE_ROOT = path.resolve(here, '../../../shared/reference/everest-api-52ff7153d');
const API = 'evse_manager_consumer_API';
const BASE = 'https://reference.invalid/';

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

export function loadReferenceValidators(root = REFERENCE_ROOT): ReferenceLoad {
  const main = path.join(root, API, 'asyncapi.yaml');
  if (!existsSync(main)) return { ok: false, reason: `reference not present at ${main}` };
  const ajv = new Ajv({ strict: false, allErrors: false, validateSchema: false });
  addFormats(ajv);
  for (const dir of readdirSync(root)) {
    const file = path.join(root, dir, 'asyncapi.yaml');
    if (!existsSync(file)) continue;
    // Only components hold schemas; the rest of an AsyncAPI document (id, info, ...) is not JSON Schema.
    const { components } = parseYaml(readFileSync(file, 'utf8')) as { components?: unknown };
    ajv.addSchema({ components }, `${BASE}${dir}/asyncapi.yaml`);
  }
  const doc = parseYaml(readFileSync(main, 'utf8')) as AsyncApiDoc;
  const mainId = `${BASE}${API}/asyncapi.yaml`;
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
