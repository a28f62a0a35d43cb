// Runtime contract for the EVerest evse_manager_consumer_API and external_energy_limits_consumer_API:
// parses our AsyncAPI documents (asyncapi/*.yaml) with @asyncapi/parser and compiles every message
// payload schema once into an ajv validator. Channels are mapped to names by address: `e2m/<name>` is a
// variable EVerest publishes, `m2e/<name>` a command we publish (a request when the operation has a
// reply, fire-and-forget otherwise).

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Parser } from '@asyncapi/parser';
import type { AsyncAPIDocumentInterface, Diagnostic, MessageInterface } from '@asyncapi/parser';
import AjvModule from 'ajv';
import type { AnySchema, ErrorObject, ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import {
  E2M_VARS,
  M2E_REQUESTS,
  M2E_SENDS,
  type E2mPayloads,
  type E2mVar,
  type M2eRequest,
  type M2eRequests,
  type M2eSend,
} from './payloads.js';
import { LIMITS_E2M_VARS, LIMITS_M2E_SENDS } from './external-limits.js';
import { ContractError, describeValidationErrors } from './validation-error.js';
import { withoutEnums } from './lenient-schema.js';
import { DISPLAY_ONLY_E2M } from './release.js';

export { ContractError } from './validation-error.js';

/**
 * `unknownValue`: the payload of a display-only variable carried a value our contract does not list (an enum
 * value a newer EVerest added); it is delivered anyway and the reason says what was new.
 */
export type ValidationResult<T> = { ok: true; value: T; unknownValue?: string } | { ok: false; reason: string };

export interface Contract {
  /** info.version of the AsyncAPI document. */
  readonly version: string;
  /** Validates a payload received on `e2m/<name>`. Unknown names give `{ok:false, reason:'unknown variable'}`. */
  validateE2m<K extends E2mVar>(name: K, data: unknown): ValidationResult<E2mPayloads[K]>;
  validateE2m(name: string, data: unknown): ValidationResult<unknown>;
  /** Validates the bare reply EVerest publishes on the replyTo topic of request `name`. */
  validateReply<K extends M2eRequest>(name: K, data: unknown): ValidationResult<M2eRequests[K]['reply']>;
  /**
   * Validates a whole request envelope `{headers:{replyTo}, payload?}` (simulator and tests). `name` is an
   * M2eRequest; any other string gives `{ok:false, reason:'unknown request'}`.
   */
  validateRequest(name: M2eRequest | (string & {}), envelope: unknown): ValidationResult<unknown>;
  /** Validates the raw payload of a fire-and-forget command (an M2eSend; others give 'unknown command'). */
  validateSend(name: M2eSend | (string & {}), payload: unknown): ValidationResult<unknown>;
  e2mNames(): readonly string[];
  requestNames(): readonly string[];
  sendNames(): readonly string[];
  /** Parser diagnostics of warning severity and ajv warnings; the caller decides whether to log them. */
  readonly warnings: string[];
  /** The external_energy_limits_consumer_API, loaded with it. */
  readonly externalLimits: LimitsContract;
}

/** The external_energy_limits_consumer_API: one e2m variable (heartbeat) and two fire-and-forget sends. */
export interface LimitsContract {
  readonly version: string;
  validateE2m(name: string, data: unknown): ValidationResult<unknown>;
  /** set_external_limits (an ExternalLimits object) or communication_check. */
  validateSend(name: string, payload: unknown): ValidationResult<unknown>;
  e2mNames(): readonly string[];
  sendNames(): readonly string[];
  readonly warnings: string[];
}

const CONTRACT_FILE = path.join('asyncapi', 'evse_manager_consumer_API.yaml');
const LIMITS_CONTRACT_FILE = path.join('asyncapi', 'external_energy_limits_consumer_API.yaml');

/** Walks up from this module (src/everest or dist/src/everest) to the directory holding asyncapi/. */
function findContract(file: string): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i += 1) {
    const candidate = path.join(dir, file);
    if (existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', file);
}

export function defaultContractPath(): string {
  return findContract(CONTRACT_FILE);
}

export function defaultLimitsContractPath(): string {
  return findContract(LIMITS_CONTRACT_FILE);
}

// @stoplight/types DiagnosticSeverity: Error = 0, Warning = 1, Information = 2, Hint = 3.
const SEVERITY_ERROR = 0;
const SEVERITY_WARNING = 1;

function formatDiagnostic(d: Diagnostic): string {
  const at = d.path.length > 0 ? ` at ${d.path.join('.')}` : '';
  const line = d.range ? ` (line ${d.range.start.line + 1})` : '';
  return `${String(d.code)}: ${d.message}${at}${line}`;
}

type Check = (data: unknown) => ValidationResult<unknown>;

const Ajv = AjvModule.default;
const addFormats = addFormatsModule.default;
type AjvInstance = InstanceType<typeof Ajv>;

function isSchema(value: unknown): value is AnySchema {
  return typeof value === 'boolean' || (typeof value === 'object' && value !== null && !Array.isArray(value));
}

function toCheck(validators: readonly ValidateFunction[]): Check {
  const [only] = validators;
  if (validators.length === 1 && only) {
    return (data) => (only(data) ? { ok: true, value: data } : { ok: false, reason: describeValidationErrors(only.errors) });
  }
  if (validators.length === 0) return (data) => ({ ok: true, value: data });
  return (data) => {
    let errors: ErrorObject[] | null | undefined;
    for (const v of validators) {
      if (v(data)) return { ok: true, value: data };
      errors ??= v.errors;
    }
    return { ok: false, reason: describeValidationErrors(errors) };
  };
}

const REGISTRY_ID = 'urn:evse-priority:everest-contract:schemas';

/**
 * The parser hands out fully dereferenced payload schemas, so a Powermeter used by six session event
 * details would be compiled six times per message. Schemas the parser tagged with a component name
 * (`x-parser-schema-id`) are therefore registered once under that name and referenced with $ref:
 * every named schema is compiled once for the whole contract. Cycles are handled by the same map.
 */
class SchemaRegistry {
  private readonly definitions = new Map<string, unknown>();

  constructor(private readonly ajv: AjvInstance) {}

  private static nameOf(node: object): string | undefined {
    const id = (node as Record<string, unknown>)['x-parser-schema-id'];
    return typeof id === 'string' && !id.startsWith('<') ? id : undefined;
  }

  private static refTo(name: string): { $ref: string } {
    const segment = encodeURIComponent(name.replace(/~/g, '~0').replace(/\//g, '~1'));
    return { $ref: `${REGISTRY_ID}#/definitions/${segment}` };
  }

  /** Returns a copy of `node` in which every named schema is replaced by a $ref into the registry. */
  share(node: unknown, isDefinition = false): unknown {
    if (Array.isArray(node)) return node.map((item) => this.share(item));
    if (typeof node !== 'object' || node === null) return node;
    const name = SchemaRegistry.nameOf(node);
    if (name !== undefined && !isDefinition) {
      if (!this.definitions.has(name)) {
        this.definitions.set(name, true); // placeholder while converting, so cycles terminate
        this.definitions.set(name, this.share(node, true));
      }
      return SchemaRegistry.refTo(name);
    }
    const copy: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(node)) copy[key] = this.share(value);
    return copy;
  }

  /** Registers the collected definitions; call once, after every share() and before any compile(). */
  seal(): void {
    this.ajv.addSchema({ $id: REGISTRY_ID, definitions: Object.fromEntries(this.definitions) });
  }
}

interface PendingMessage {
  where: string;
  schema: AnySchema;
}

interface CompiledContract {
  version: string;
  e2m: Map<string, Check>;
  /** Display-only variables: the same schemas without enums. */
  lenientE2m: Map<string, Check>;
  requests: Map<string, { request: Check; reply: Check }>;
  sends: Map<string, Check>;
}

/** The names the code expects a document to declare (payloads.ts, external-limits.ts). */
interface ExpectedNames {
  e2m: readonly string[];
  requests: readonly string[];
  sends: readonly string[];
}

const EVSE_NAMES: ExpectedNames = { e2m: E2M_VARS, requests: M2E_REQUESTS, sends: M2E_SENDS };
const LIMITS_NAMES: ExpectedNames = { e2m: LIMITS_E2M_VARS, requests: [], sends: LIMITS_M2E_SENDS };

function newAjv(warnings: string[]): AjvInstance {
  const ajv = new Ajv({
    // AsyncAPI schemas carry keywords ajv does not know (x-parser-schema-id added by the parser, our own
    // x- notes, discriminator, externalDocs, ...). Non-strict mode ignores them instead of throwing.
    strict: false,
    allErrors: false,
    logger: {
      log: () => undefined,
      warn: (...args: unknown[]) => warnings.push(`ajv: ${args.map(String).join(' ')}`),
      error: (...args: unknown[]) => warnings.push(`ajv error: ${args.map(String).join(' ')}`),
    },
  });
  // 'fast' checks the shape of date-times by regex; the full mode costs ~15x per timestamp on the
  // hot path and EVerest's own clock is the authority on what it sends anyway.
  addFormats(ajv, { mode: 'fast' });
  return ajv;
}

function compile(document: AsyncAPIDocumentInterface, warnings: string[], expected: ExpectedNames, codeFile: string): CompiledContract {
  const ajv = newAjv(warnings);
  const registry = new SchemaRegistry(ajv);
  // Display-only variables also get a validator without enums, in an ajv of their own (the shared named
  // schemas differ: ConnectorType there has no enum).
  const lenientAjv = newAjv(warnings);
  const lenientRegistry = new SchemaRegistry(lenientAjv);
  const problems: string[] = [];

  const collect = (where: string, messages: readonly MessageInterface[], into = registry, transform = (s: unknown) => s): PendingMessage[] => {
    if (messages.length === 0) problems.push(`${where}: no message`);
    const pending: PendingMessage[] = [];
    for (const message of messages) {
      const payload = message.payload();
      if (!message.hasPayload() || !payload) {
        pending.push({ where, schema: true });
        continue;
      }
      const schema: unknown = into.share(transform(payload.json()));
      if (isSchema(schema)) pending.push({ where: `${where} message ${message.id()}`, schema });
      else problems.push(`${where}: message ${message.id()} has no usable payload schema`);
    }
    return pending;
  };

  const e2m = new Map<string, PendingMessage[]>();
  const lenientE2m = new Map<string, PendingMessage[]>();
  const requests = new Map<string, { request: PendingMessage[]; reply: PendingMessage[] }>();
  const sends = new Map<string, PendingMessage[]>();

  for (const operation of document.operations().all()) {
    const opId = operation.id();
    for (const channel of operation.channels().all()) {
      const address = channel.address();
      if (address === null || address === undefined) continue; // reply channels: reached through their request
      const match = /^(e2m|m2e)\/([A-Za-z0-9_]+)$/.exec(address);
      const direction = match?.[1];
      const name = match?.[2];
      if (!direction || !name) {
        problems.push(`operation ${opId}: address ${address} is neither e2m/<name> nor m2e/<name>`);
        continue;
      }
      const where = `${opId} (${address})`;
      const messages = channel.messages().all();
      if (direction === 'e2m') {
        if (!operation.isReceive()) problems.push(`${where}: e2m channels must be received`);
        else if (e2m.has(name)) problems.push(`${where}: e2m/${name} declared twice`);
        else {
          e2m.set(name, collect(where, messages));
          if (DISPLAY_ONLY_E2M.has(name)) lenientE2m.set(name, collect(where, messages, lenientRegistry, withoutEnums));
        }
        continue;
      }
      if (!operation.isSend()) {
        problems.push(`${where}: m2e channels must be sent`);
        continue;
      }
      if (requests.has(name) || sends.has(name)) {
        problems.push(`${where}: m2e/${name} declared twice`);
        continue;
      }
      const reply = operation.reply();
      if (reply) {
        const replyMessages = reply.messages().all();
        requests.set(name, {
          request: collect(where, messages),
          reply: collect(`${where} reply`, replyMessages.length > 0 ? replyMessages : (reply.channel()?.messages().all() ?? [])),
        });
      } else {
        sends.set(name, collect(where, messages));
      }
    }
  }

  const drift = (kind: string, expected: readonly string[], actual: ReadonlyMap<string, unknown>): void => {
    for (const name of expected) if (!actual.has(name)) problems.push(`${kind} ${name} is in ${codeFile} but not in the contract`);
    for (const name of actual.keys()) if (!expected.includes(name)) problems.push(`${kind} ${name} is in the contract but not in ${codeFile}`);
  };
  drift('e2m variable', expected.e2m, e2m);
  drift('m2e request', expected.requests, requests);
  drift('m2e send', expected.sends, sends);
  if (problems.length > 0) throw new ContractError('EVerest contract does not match what the code expects', problems);

  try {
    registry.seal();
    lenientRegistry.seal();
  } catch (err) {
    throw new ContractError('EVerest contract schemas do not compile', [err instanceof Error ? err.message : String(err)]);
  }
  const build = (pending: readonly PendingMessage[], using = ajv): Check => {
    const validators: ValidateFunction[] = [];
    for (const { where, schema } of pending) {
      try {
        validators.push(using.compile(schema));
      } catch (err) {
        problems.push(`${where}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    return toCheck(validators);
  };
  const result: CompiledContract = {
    version: document.info().version(),
    e2m: new Map([...e2m].map(([name, pending]) => [name, build(pending)])),
    lenientE2m: new Map([...lenientE2m].map(([name, pending]) => [name, build(pending, lenientAjv)])),
    requests: new Map([...requests].map(([name, p]) => [name, { request: build(p.request), reply: build(p.reply) }])),
    sends: new Map([...sends].map(([name, pending]) => [name, build(pending)])),
  };
  if (problems.length > 0) throw new ContractError('EVerest contract schemas do not compile', problems);
  return result;
}

let sharedParser: Parser | undefined;

async function parseAndCompile(contractPath: string, expected: ExpectedNames, codeFile: string): Promise<CompiledContract & { warnings: string[] }> {
  const source = path.resolve(contractPath);
  let text: string;
  try {
    text = await readFile(source, 'utf8');
  } catch (err) {
    throw new ContractError(`cannot read EVerest contract ${source}: ${err instanceof Error ? err.message : String(err)}`);
  }
  sharedParser ??= new Parser();
  const { document, diagnostics } = await sharedParser.parse(text, { source });
  const errors = diagnostics.filter((d) => d.severity === SEVERITY_ERROR);
  if (errors.length > 0 || !document) {
    throw new ContractError(`EVerest contract ${source} is not valid AsyncAPI`, errors.map(formatDiagnostic));
  }
  const warnings = diagnostics.filter((d) => d.severity === SEVERITY_WARNING).map(formatDiagnostic);
  return { ...compile(document, warnings, expected, codeFile), warnings };
}

function validatorsOf(compiled: CompiledContract) {
  return {
    validateE2m(name: string, data: unknown): ValidationResult<unknown> {
      const check = compiled.e2m.get(name);
      if (!check) return { ok: false, reason: 'unknown variable' };
      const strict = check(data);
      if (strict.ok) return strict;
      const lenient = compiled.lenientE2m.get(name)?.(data);
      return lenient?.ok ? { ok: true, value: lenient.value, unknownValue: strict.reason } : strict;
    },
    validateSend(name: string, payload: unknown): ValidationResult<unknown> {
      const check = compiled.sends.get(name);
      return check ? check(payload) : { ok: false, reason: 'unknown command' };
    },
  };
}

/**
 * Loads and compiles both contracts. Throws ContractError when a document has parser diagnostics of error
 * severity, when a schema does not compile, or when the code and the document list different names.
 * Loading takes several hundred milliseconds (the AsyncAPI parser dominates): load once per process.
 */
export async function loadContract(
  contractPath: string = defaultContractPath(),
  limitsContractPath: string = defaultLimitsContractPath(),
): Promise<Contract> {
  // One after the other: the parser is shared and the second document is small.
  const compiled = await parseAndCompile(contractPath, EVSE_NAMES, 'payloads.ts');
  const limits = await parseAndCompile(limitsContractPath, LIMITS_NAMES, 'external-limits.ts');
  const e2mNames = Object.freeze([...compiled.e2m.keys()]);
  const requestNames = Object.freeze([...compiled.requests.keys()]);
  const sendNames = Object.freeze([...compiled.sends.keys()]);
  const { validateE2m: checkE2m, validateSend } = validatorsOf(compiled);
  const limitsE2mNames = Object.freeze([...limits.e2m.keys()]);
  const limitsSendNames = Object.freeze([...limits.sends.keys()]);

  function validateE2m<K extends E2mVar>(name: K, data: unknown): ValidationResult<E2mPayloads[K]>;
  function validateE2m(name: string, data: unknown): ValidationResult<unknown>;
  function validateE2m(name: string, data: unknown): ValidationResult<unknown> {
    return checkE2m(name, data);
  }

  return {
    version: compiled.version,
    validateE2m,
    validateReply<K extends M2eRequest>(name: K, data: unknown): ValidationResult<M2eRequests[K]['reply']> {
      const entry = compiled.requests.get(name);
      if (!entry) return { ok: false, reason: 'unknown request' };
      return entry.reply(data) as ValidationResult<M2eRequests[K]['reply']>;
    },
    validateRequest(name: string, envelope: unknown): ValidationResult<unknown> {
      const entry = compiled.requests.get(name);
      return entry ? entry.request(envelope) : { ok: false, reason: 'unknown request' };
    },
    validateSend,
    e2mNames: () => e2mNames,
    requestNames: () => requestNames,
    sendNames: () => sendNames,
    warnings: compiled.warnings,
    externalLimits: {
      version: limits.version,
      ...validatorsOf(limits),
      e2mNames: () => limitsE2mNames,
      sendNames: () => limitsSendNames,
      warnings: limits.warnings,
    },
  };
}
