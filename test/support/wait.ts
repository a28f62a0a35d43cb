import type { IClientSubscribeOptions, MqttClient } from 'mqtt';

export interface WaitForOptions {
  /** Give up after this long (default 5000 ms). */
  timeoutMs?: number;
  /** Pause between polls (default 20 ms). */
  intervalMs?: number;
  /** Error message on timeout; a function is evaluated at timeout time (handy for dumping state). */
  message?: string | (() => string);
}

/**
 * Poll `fn` until it yields a "ready" value and resolve with it.
 *
 * Not ready: `undefined`, `null`, `false`, or a thrown error (so `expect(...)` assertions work inside `fn`).
 * Anything else (including 0 and '') counts as ready. On timeout it rejects with `message`
 * plus the last error thrown by `fn`, if any.
 */
export async function waitFor<T>(
  fn: () => T | undefined | Promise<T | undefined>,
  options: WaitForOptions = {},
): Promise<T> {
  const { timeoutMs = 5000, intervalMs = 20, message } = options;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    const remaining = deadline - Date.now();
    try {
      const value = await withDeadline(Promise.resolve().then(fn), Math.max(remaining, 1));
      if (value !== undefined && value !== null && value !== false) return value;
      lastError = undefined;
    } catch (err) {
      if (err === DEADLINE) break;
      lastError = err;
    }
    if (Date.now() >= deadline) break;
    await sleep(Math.min(intervalMs, Math.max(deadline - Date.now(), 0)));
  }
  const base = typeof message === 'function' ? message() : (message ?? 'waitFor: condition not met');
  const cause = lastError === undefined ? '' : `; last error: ${lastError instanceof Error ? lastError.message : String(lastError)}`;
  throw new Error(`${base} (timed out after ${timeoutMs} ms${cause})`, lastError === undefined ? undefined : { cause: lastError });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const DEADLINE: unique symbol = Symbol('deadline');

function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(DEADLINE), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

export interface CollectedMessage {
  topic: string;
  /** Payload decoded as UTF-8. */
  payload: string;
  /** Date.now() when the message arrived. */
  at: number;
}

export interface Collector {
  /** Live array: messages are appended as they arrive (like watching `mosquitto_sub -v`). */
  messages: CollectedMessage[];
  /** Stop recording and unsubscribe (unless another collector on the same client still uses the filter). Never hangs. */
  stop(): Promise<void>;
}

/** Per-client reference count of filters subscribed by collectors, so one collector's stop() does not break another. */
const collectorRefs = new WeakMap<MqttClient, Map<string, number>>();

/**
 * Subscribe a raw mqtt.js client to `topicFilter` and record every matching message.
 * Resolves once the broker has acknowledged the subscription, so anything published afterwards is seen.
 * Only messages whose topic matches `topicFilter` are recorded, even if the client has other subscriptions.
 */
export async function collect(
  client: MqttClient,
  topicFilter: string,
  options: Pick<IClientSubscribeOptions, 'qos'> = { qos: 0 },
): Promise<Collector> {
  const messages: CollectedMessage[] = [];
  const onMessage = (topic: string, payload: Buffer): void => {
    if (topicMatches(topicFilter, topic)) messages.push({ topic, payload: payload.toString('utf8'), at: Date.now() });
  };
  client.on('message', onMessage);

  const refs = collectorRefs.get(client) ?? new Map<string, number>();
  collectorRefs.set(client, refs);
  refs.set(topicFilter, (refs.get(topicFilter) ?? 0) + 1);

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    client.off('message', onMessage);
    const left = (refs.get(topicFilter) ?? 1) - 1;
    if (left > 0) {
      refs.set(topicFilter, left);
      return;
    }
    refs.delete(topicFilter);
    if (!client.connected || client.disconnecting) return;
    try {
      await withDeadline(client.unsubscribeAsync(topicFilter), 2000);
    } catch {
      // Best effort: the client may be going away; a dangling subscription is harmless for a test client.
    }
  };

  try {
    const granted = await client.subscribeAsync(topicFilter, { qos: options.qos ?? 0 });
    const failed = granted.find((g) => g.qos === 128);
    if (failed) throw new Error(`collect: broker refused subscription to '${topicFilter}'`);
  } catch (err) {
    await stop();
    throw err;
  }
  return { messages, stop };
}

/** MQTT topic filter matching (`+` one level, `#` the rest, `$`-topics not matched by leading wildcards). */
export function topicMatches(filter: string, topic: string): boolean {
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === '#') return true;
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}
