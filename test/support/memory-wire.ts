// An MQTT connection in memory for unit tests of what sits on EverestClient: a test delivers e2m
// messages as a broker would and reads back what was published. No matching of filters: every
// delivered message reaches the client, which routes it by topic as it does from the broker.
import type { EverestWire } from '../../src/everest/client.js';

export class MemoryWire implements EverestWire {
  private readonly handlers = new Set<(topic: string, payload: Buffer) => void>();
  readonly subscribed: string[] = [];
  readonly published: Array<{ topic: string; payload: unknown }> = [];

  onMessage(handler: (topic: string, payload: Buffer) => void): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  subscribe(filters: readonly string[]): Promise<void> {
    this.subscribed.push(...filters);
    return Promise.resolve();
  }

  publish(topic: string, payload: string | Buffer): Promise<void> {
    this.published.push({ topic, payload: JSON.parse(payload.toString()) as unknown });
    return Promise.resolve();
  }

  deliver(topic: string, payload: unknown): void {
    const buffer = Buffer.from(JSON.stringify(payload));
    for (const handler of this.handlers) handler(topic, buffer);
  }

  /**
   * Plays EVerest's replies: every request envelope published so far (and any it leads to) gets
   * `reply(command)` on its replyTo topic; `undefined` leaves that request unanswered.
   */
  answerRequests(reply: (command: string) => unknown): void {
    for (let i = this.answered; i < this.published.length; i++) {
      const { topic, payload } = this.published[i] ?? { topic: '', payload: undefined };
      this.answered = i + 1;
      const replyTo = (payload as { headers?: { replyTo?: unknown } } | undefined)?.headers?.replyTo;
      const answer = reply(topic.slice(topic.lastIndexOf('/') + 1));
      if (typeof replyTo === 'string' && answer !== undefined) this.deliver(replyTo, answer);
    }
  }

  private answered = 0;

  /** What was published on topics ending with `suffix` (e.g. `/m2e/pause_charging`). */
  publishedTo(suffix: string): Array<{ topic: string; payload: unknown }> {
    return this.published.filter((p) => p.topic.endsWith(suffix));
  }
}
