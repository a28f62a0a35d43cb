// Build time only: reads our AsyncAPI documents (asyncapi/*.yaml) with @asyncapi/parser and collects, per
// channel, the JSON schemas of its messages. Channels are mapped to names by address: `e2m/<name>` is a
// variable EVerest publishes, `m2e/<name>` a command we publish (a request when the operation has a reply,
// fire-and-forget otherwise). scripts/validators/generate.ts turns the result into standalone validator code;
// the running module never loads the parser (src/everest/contract.ts reads the generated code).

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AsyncAPIDocumentInterface, Diagnostic, MessageInterface, Parser } from '@asyncapi/parser';
import type { AnySchema } from 'ajv';
import { E2M_VARS, M2E_REQUESTS, M2E_SENDS } from '../../src/everest/payloads.js';
import { LIMITS_E2M_VARS, LIMITS_M2E_SENDS } from '../../src/everest/external-limits.js';
import { ContractError } from '../../src/everest/validation-error.js';
import { withoutEnums } from '../../src/everest/lenient-schema.js';
import { DISPLAY_ONLY_E2M } from '../../src/everest/release.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The two APIs we speak; each has its own document and its own list of names in the code. */
export type ContractKind = 'evse' | 'limits';

export const CONTRACT_FILES: Readonly<Record<ContractKind, string>> = {
  evse: path.join(ROOT, 'asyncapi', 'evse_manager_consumer_API.yaml'),
  limits: path.join(ROOT, 'asyncapi', 'external_energy_limits_consumer_API.yaml'),
};

/** The names the code expects a document to declare (payloads.ts, external-limits.ts). */
interface ExpectedNames {
  codeFile: string;
  e2m: readonly string[];
  requests: readonly string[];
  sends: readonly string[];
}

const EXPECTED: Readonly<Record<ContractKind, ExpectedNames>> = {
  evse: { codeFile: 'payloads.ts', e2m: E2M_VARS, requests: M2E_REQUESTS, sends: M2E_SENDS },
  limits: { codeFile: 'external-limits.ts', e2m: LIMITS_E2M_VARS, requests: [], sends: LIMITS_M2E_SENDS },
};

/** One message schema of a channel; `where` names it in error messages. */
export interface SchemaSlot {
  where: string;
  schema: AnySchema;
}

/** Everything one document says about validation, ready for ajv. */
export interface ContractSchemas {
  kind: ContractKind;
  version: string;
  /** Parser diagnostics of warning severity. */
  warnings: string[];
  /** The shared named schemas, one registry schema (with $id) for the strict and one for the lenient slots. */
  registries: AnySchema[];
  e2m: Map<string, SchemaSlot[]>;
  /** Display-only variables: the same schemas without enums. */
  lenientE2m: Map<string, SchemaSlot[]>;
  requests: Map<string, { request: SchemaSlot[]; reply: SchemaSlot[] }>;
  sends: Map<string, SchemaSlot[]>;
}

// @stoplight/types DiagnosticSeverity: Error = 0, Warning = 1, Information = 2, Hint = 3.
const SEVERITY_ERROR = 0;
const SEVERITY_WARNING = 1;

function formatDiagnostic(d: Diagnostic): string {
  const at = d.path.length > 0 ? ` at ${d.path.join('.')}` : '';
  const line = d.range ? ` (line ${d.range.start.line + 1})` : '';
  return `${String(d.code)}: ${d.message}${at}${line}`;
}

function isSchema(value: unknown): value is AnySchema {
  return typeof value === 'boolean' || (typeof value === 'object' && value !== null && !Array.isArray(value));
}

/**
 * The parser hands out fully dereferenced payload schemas, so a Powermeter used by six session event
 * details would be compiled six times. Schemas the parser tagged with a component name
 * (`x-parser-schema-id`) are therefore collected once under that name in a registry schema and referenced
 * with $ref: every named schema is compiled once for the whole contract. Cycles are handled by the same map.
 */
class SchemaRegistry {
  private readonly definitions = new Map<string, unknown>();

  constructor(private readonly id: string) {}

  private static nameOf(node: object): string | undefined {
    const id = (node as Record<string, unknown>)['x-parser-schema-id'];
    return typeof id === 'string' && !id.startsWith('<') ? id : undefined;
  }

  private refTo(name: string): { $ref: string } {
    const segment = encodeURIComponent(name.replace(/~/g, '~0').replace(/\//g, '~1'));
    return { $ref: `${this.id}#/definitions/${segment}` };
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
      return this.refTo(name);
    }
    const copy: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(node)) copy[key] = this.share(value);
    return copy;
  }

  /** The registry as one schema for ajv.addSchema; call after every share(). */
  schema(): AnySchema {
    return { $id: this.id, definitions: Object.fromEntries(this.definitions) };
  }
}

function collectSchemas(document: AsyncAPIDocumentInterface, kind: ContractKind, warnings: string[]): ContractSchemas {
  const expected = EXPECTED[kind];
  // Display-only variables get their schemas without enums in a registry of their own (the shared named
  // schemas differ: ConnectorType there has no enum).
  const registry = new SchemaRegistry(`urn:evse-priority:${kind}-contract:schemas`);
  const lenientRegistry = new SchemaRegistry(`urn:evse-priority:${kind}-contract:lenient-schemas`);
  const problems: string[] = [];

  const collect = (where: string, messages: readonly MessageInterface[], into = registry, transform = (s: unknown) => s): SchemaSlot[] => {
    if (messages.length === 0) problems.push(`${where}: no message`);
    const slots: SchemaSlot[] = [];
    for (const message of messages) {
      const payload = message.payload();
      if (!message.hasPayload() || !payload) {
        slots.push({ where, schema: true });
        continue;
      }
      const schema: unknown = into.share(transform(payload.json()));
      if (isSchema(schema)) slots.push({ where: `${where} message ${message.id()}`, schema });
      else problems.push(`${where}: message ${message.id()} has no usable payload schema`);
    }
    return slots;
  };

  const e2m = new Map<string, SchemaSlot[]>();
  const lenientE2m = new Map<string, SchemaSlot[]>();
  const requests = new Map<string, { request: SchemaSlot[]; reply: SchemaSlot[] }>();
  const sends = new Map<string, SchemaSlot[]>();

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

  const drift = (what: string, names: readonly string[], actual: ReadonlyMap<string, unknown>): void => {
    for (const name of names) if (!actual.has(name)) problems.push(`${what} ${name} is in ${expected.codeFile} but not in the contract`);
    for (const name of actual.keys()) if (!names.includes(name)) problems.push(`${what} ${name} is in the contract but not in ${expected.codeFile}`);
  };
  drift('e2m variable', expected.e2m, e2m);
  drift('m2e request', expected.requests, requests);
  drift('m2e send', expected.sends, sends);
  if (problems.length > 0) throw new ContractError('EVerest contract does not match what the code expects', problems);

  return {
    kind,
    version: document.info().version(),
    warnings,
    registries: [registry.schema(), lenientRegistry.schema()],
    e2m,
    lenientE2m,
    requests,
    sends,
  };
}

let sharedParser: Parser | undefined;

/**
 * Parses one of our documents and collects its schemas. Throws ContractError when the document has parser
 * diagnostics of error severity or when the code and the document list different names.
 */
export async function readContractSchemas(kind: ContractKind, file: string = CONTRACT_FILES[kind]): Promise<ContractSchemas> {
  const source = path.resolve(file);
  let text: string;
  try {
    text = await readFile(source, 'utf8');
  } catch (err) {
    throw new ContractError(`cannot read EVerest contract ${source}: ${err instanceof Error ? err.message : String(err)}`);
  }
  // Loaded on first use: the generator's up-to-date check (every test run) should not pay for the parser.
  sharedParser ??= new (await import('@asyncapi/parser')).Parser();
  const { document, diagnostics } = await sharedParser.parse(text, { source });
  const errors = diagnostics.filter((d) => d.severity === SEVERITY_ERROR);
  if (errors.length > 0 || !document) {
    throw new ContractError(`EVerest contract ${source} is not valid AsyncAPI`, errors.map(formatDiagnostic));
  }
  const warnings = diagnostics.filter((d) => d.severity === SEVERITY_WARNING).map(formatDiagnostic);
  return collectSchemas(document, kind, warnings);
}
