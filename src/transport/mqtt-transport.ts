import { readFileSync } from 'node:fs';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from '../log/logger.js';
import { redactUrl, splitCredentials } from '../log/redact.js';
import { BehaviorSubject, Observable, Subject, distinctUntilChanged } from 'rxjs';
import { backoffDelay } from './backoff.js';

export type ConnectionStatus = 'connecting' | 'online' | 'reconnecting' | 'offline' | 'closed';

export interface InboundMessage {
  topic: string;
  payload: Buffer;
}

export interface PublishOptions {
  qos?: 0 | 1 | 2;
  retain?: boolean;
}

export interface TransportTls {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  rejectUnauthorized?: boolean;
}

export interface TransportOptions {
  url: string;
  clientId: string;
  username?: string;
  password?: string;
  protocolVersion?: 4 | 5;
  keepaliveS?: number;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  tls?: TransportTls;
  /** Retained status topic: `online` on every connect, `offline` as last-will and on clean close. */
  statusTopic?: string;
  logger: Logger;
  /** Injectable for deterministic jitter in tests. */
  random?: () => number;
}

/** A QoS 0 publish held back while the socket's write buffer is full. */
interface Queued {
  topic: string;
  payload: string | Buffer;
  opts: PublishOptions;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * How long inbound messages are handled back to back before the transport lets timers and I/O run.
 * mqtt.js parses a whole socket read and hands over its packets one process.nextTick after another,
 * all in one macrotask: under a burst (1000 EVSEs, hostile input) that was a 100-400 ms long task that
 * delayed every communication check behind it.
 */
export const INBOUND_SLICE_MS = 5;

const noLog = (): void => undefined;

export const STATUS_ONLINE = JSON.stringify({ state: 'online' });
export const STATUS_OFFLINE = JSON.stringify({ state: 'offline' });

/**
 * The only importer of mqtt.js. One connection serves every EVSE; subscriptions are remembered and
 * re-sent on every connect because a restarted broker (or a clean session) forgets them.
 */
export class MqttTransport {
  private readonly statusSubject = new BehaviorSubject<ConnectionStatus>('connecting');
  private readonly connectedSubject = new Subject<number>();
  private readonly filters = new Map<string, number>();
  private readonly client: MqttClient;
  private readonly log: Logger;
  private attempts = 0;
  private connects = 0;
  private closing = false;
  /** Publishes waiting for the socket to drain, in order; see publish(). */
  private readonly backlog: Queued[] = [];
  /** The stream our single 'drain' listener is on, while one is. */
  private drainingOn: Duplex | undefined;
  private readonly onDrain = (): void => this.flush();
  /** Rejects the publish whose callback mqtt.js holds until 'drain' (a no-op once it was called). */
  private stalled: (() => void) | undefined;
  /** When the current run of inbound messages began (performance.now()), while one runs. */
  private sliceStartedAt: number | undefined;
  private readonly endSlice = (): void => {
    this.sliceStartedAt = undefined;
  };

  /** Replayed, de-duplicated connection status. */
  readonly status$: Observable<ConnectionStatus> = this.statusSubject.pipe(distinctUntilChanged());
  /** Emits the connect count after each (re)connect, once subscriptions have been re-sent. */
  readonly connected$: Observable<number> = this.connectedSubject.asObservable();
  /** Every inbound message, hot. Consumers route by topic. */
  readonly messages$: Observable<InboundMessage> = new Observable<InboundMessage>((subscriber) =>
    this.onMessage((topic, payload) => subscriber.next({ topic, payload })),
  );

  constructor(private readonly options: TransportOptions) {
    this.log = options.logger;
    const minMs = options.reconnectMinMs ?? 500;
    // Credentials in the URL go to mqtt.js as options (mqtt.username/password still win): given the
    // URL itself, Node's legacy parser misreads a password with an unencoded `/` as the host and
    // prints the whole URL, password and all, in a deprecation warning.
    const fromUrl = splitCredentials(options.url);
    const username = options.username ?? fromUrl.username;
    const password = options.password ?? fromUrl.password;
    const clientOptions: IClientOptions = {
      clientId: options.clientId,
      protocolVersion: options.protocolVersion ?? 4,
      keepalive: options.keepaliveS ?? 30,
      clean: true,
      reconnectPeriod: minMs,
      connectTimeout: 10_000,
      // We resubscribe ourselves on every connect; mqtt.js's own resubscribe would double it.
      resubscribe: false,
      // A QoS 0 message queued while offline is stale by the time it goes out (communication
      // checks would arrive in a burst); drop instead.
      queueQoSZero: false,
      // mqtt-packet's number cache is 65 536 two-byte Buffers (about 6 MB of heap, bench:startup) built on
      // the first publish; we publish a few messages a second, so each number is made when written instead.
      writeCache: false,
      // mqtt.js logs every packet through `debug`, whose logger builds an argument array per call even
      // when it is off (half a gigabyte per 100 s of the soak's load). A no-op instead, unless someone
      // asked for mqtt.js's debug output.
      ...(/mqttjs/.test(process.env.DEBUG ?? '') ? {} : { log: noLog }),
      ...(username !== undefined ? { username } : {}),
      ...(password !== undefined ? { password } : {}),
      ...tlsOptions(options.tls),
      ...(options.statusTopic
        ? { will: { topic: options.statusTopic, payload: Buffer.from(STATUS_OFFLINE), qos: 1, retain: true } }
        : {}),
    };
    this.client = mqtt.connect(fromUrl.url, clientOptions);
    // mqtt.js asks for the next packet of a read only once this calls back (its documented hook for
    // back-pressure): past INBOUND_SLICE_MS we call back on the next turn of the event loop. Order is
    // kept (one packet at a time), nothing is buffered here (unread packets stay in the socket, whose
    // reading pauses while mqtt.js's stream is full) and a QoS 1 ack still follows the handling.
    this.client.handleMessage = (_packet, callback) => this.pace(callback);
    this.client.on('connect', () => void this.onConnect());
    this.client.on('reconnect', () => this.statusSubject.next('reconnecting'));
    this.client.on('offline', () => {
      if (!this.closing) this.statusSubject.next('offline');
    });
    this.client.on('close', () => this.onClose());
    this.client.on('error', (err) => this.log.warn({ err: err.message }, 'mqtt error'));
  }

  /**
   * The hot path for high-rate consumers (the EVerest client): a plain callback, no Subject hop and no
   * wrapper object per message. Returns the function that removes it.
   */
  onMessage(handler: (topic: string, payload: Buffer) => void): () => void {
    const listener = (topic: string, payload: Buffer) => handler(topic, payload);
    this.client.on('message', listener);
    return () => {
      this.client.off('message', listener);
    };
  }

  get connected(): boolean {
    return this.client.connected;
  }

  /** Called after each inbound publish was handed to the listeners; see INBOUND_SLICE_MS. */
  private pace(next: () => void): void {
    const now = performance.now();
    if (this.sliceStartedAt === undefined) {
      this.sliceStartedAt = now;
      // Queued before any deferred `next`, so the run after a yield starts a fresh slice.
      setImmediate(this.endSlice);
    } else if (now - this.sliceStartedAt >= INBOUND_SLICE_MS) {
      setImmediate(next);
      return;
    }
    next();
  }

  /** Adds filters (reference-counted) and subscribes now if connected; re-sent on every connect. */
  async subscribe(filters: readonly string[]): Promise<void> {
    const fresh: string[] = [];
    for (const filter of filters) {
      const count = this.filters.get(filter) ?? 0;
      this.filters.set(filter, count + 1);
      if (count === 0) fresh.push(filter);
    }
    if (fresh.length > 0 && this.client.connected) {
      await this.client.subscribeAsync(fresh, { qos: 0 });
    }
  }

  async unsubscribe(filters: readonly string[]): Promise<void> {
    const gone: string[] = [];
    for (const filter of filters) {
      const count = this.filters.get(filter) ?? 0;
      if (count <= 1) {
        if (this.filters.delete(filter)) gone.push(filter);
      } else {
        this.filters.set(filter, count - 1);
      }
    }
    if (gone.length > 0 && this.client.connected) await this.client.unsubscribeAsync(gone);
  }

  /**
   * Publishes when connected; while disconnected the message is dropped and the promise rejects.
   * Back-pressure: while the socket's write buffer is full, publishes wait here in order behind one
   * 'drain' listener. Handed to mqtt.js regardless, each would add a 'drain' listener of its own
   * (1000 EVSEs' start-up burst: a MaxListenersExceededWarning) and pile up in the socket's buffer.
   */
  publish(topic: string, payload: string | Buffer, opts: PublishOptions = {}): Promise<void> {
    if (!this.client.connected || this.closing) return Promise.reject(new NotConnectedError(topic));
    if (this.backlog.length === 0 && !this.mustWait()) return this.write(topic, payload, opts);
    return new Promise<void>((resolve, reject) => {
      this.backlog.push({ topic, payload, opts, resolve, reject });
      this.awaitDrain();
    });
  }

  /** Publishes waiting for the socket to drain (for tests and metrics). */
  get backlogSize(): number {
    return this.backlog.length;
  }

  private write(topic: string, payload: string | Buffer, opts: PublishOptions): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.client.publish(topic, payload, { qos: opts.qos ?? 0, retain: opts.retain ?? false }, (err) => (err ? reject(err) : resolve()));
      // The write that filled the buffer: mqtt.js calls back on 'drain', which a closed socket never emits.
      if (this.mustWait()) this.stalled = () => reject(new NotConnectedError(topic));
    });
  }

  private mustWait(): boolean {
    const stream: Duplex | undefined = this.client.stream;
    return stream?.writableNeedDrain === true;
  }

  private awaitDrain(): void {
    if (this.drainingOn) return;
    const stream: Duplex | undefined = this.client.stream;
    if (!stream || !stream.writableNeedDrain) {
      // Drained between the check and now (or no stream): go on in order on the next tick.
      queueMicrotask(this.onDrain);
      return;
    }
    this.drainingOn = stream;
    stream.once('drain', this.onDrain);
  }

  /** Writes waiting publishes until the buffer is full again (mqtt.js writes QoS 0 synchronously). */
  private flush(): void {
    this.stopAwaitingDrain();
    this.stalled = undefined;
    while (this.backlog.length > 0) {
      if (!this.client.connected || this.closing) return this.dropBacklog();
      if (this.mustWait()) return this.awaitDrain();
      const next = this.backlog.shift()!;
      this.write(next.topic, next.payload, next.opts).then(next.resolve, next.reject);
    }
  }

  private stopAwaitingDrain(): void {
    this.drainingOn?.off('drain', this.onDrain);
    this.drainingOn = undefined;
  }

  /** A connection that closed never drains: what waited is dropped, as a publish while disconnected is. */
  private dropBacklog(): void {
    this.stopAwaitingDrain();
    this.stalled?.();
    this.stalled = undefined;
    for (const queued of this.backlog.splice(0)) queued.reject(new NotConnectedError(queued.topic));
  }

  /** Publishes the retained offline status, then disconnects cleanly. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.dropBacklog();
    if (this.client.connected && this.options.statusTopic) {
      await this.client
        .publishAsync(this.options.statusTopic, STATUS_OFFLINE, { qos: 1, retain: true })
        .catch((err: Error) => this.log.warn({ err: err.message }, 'could not publish offline status'));
    }
    await this.client.endAsync();
    this.statusSubject.next('closed');
    this.statusSubject.complete();
    this.connectedSubject.complete();
  }

  private async onConnect(): Promise<void> {
    this.attempts = 0;
    // Commands are small packets that often follow another publish within milliseconds; with Nagle's
    // algorithm on, such a packet waits for the broker's delayed ACK (~40 ms on Linux).
    const socket: unknown = this.client.stream;
    if (socket instanceof Socket) socket.setNoDelay(true);
    this.client.options.reconnectPeriod = this.options.reconnectMinMs ?? 500;
    this.connects += 1;
    const filters = [...this.filters.keys()];
    try {
      if (filters.length > 0) await this.client.subscribeAsync(filters, { qos: 0 });
      if (this.options.statusTopic) {
        await this.client.publishAsync(this.options.statusTopic, STATUS_ONLINE, { qos: 1, retain: true });
      }
    } catch (err) {
      // The connection dropped again mid-way; the next connect repeats all of it.
      this.log.warn({ err: (err as Error).message }, 'resubscribe after connect failed');
      return;
    }
    this.log.info({ url: redactUrl(this.options.url), filters: filters.length, connects: this.connects }, 'mqtt connected');
    this.statusSubject.next('online');
    this.connectedSubject.next(this.connects);
  }

  private onClose(): void {
    this.dropBacklog();
    if (this.closing) return;
    this.attempts += 1;
    // mqtt.js reads reconnectPeriod each time it schedules a reconnect, so adjusting it here gives
    // exponential backoff with jitter without replacing its reconnect loop.
    this.client.options.reconnectPeriod = backoffDelay(this.attempts, {
      minMs: this.options.reconnectMinMs ?? 500,
      maxMs: this.options.reconnectMaxMs ?? 5_000,
      random: this.options.random ?? Math.random,
    });
    if (this.statusSubject.value === 'online') this.statusSubject.next('offline');
  }
}

export class NotConnectedError extends Error {
  constructor(readonly topic: string) {
    super(`not connected to the broker; dropped publish to ${topic}`);
    this.name = 'NotConnectedError';
  }
}

function tlsOptions(tls: TransportTls | undefined): Partial<IClientOptions> {
  if (!tls) return {};
  return {
    ...(tls.caFile ? { ca: readFileSync(tls.caFile) } : {}),
    ...(tls.certFile ? { cert: readFileSync(tls.certFile) } : {}),
    ...(tls.keyFile ? { key: readFileSync(tls.keyFile) } : {}),
    rejectUnauthorized: tls.rejectUnauthorized ?? true,
  };
}
