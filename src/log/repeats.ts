import type { Logger } from './logger.js';

export interface RepeatedWarningsOptions {
  /** The line's message; the interval's summary lines say `<message> (repeated)`. */
  message: string;
  /** How long repeats of one (group, reason) are counted instead of logged (default 60 s). */
  intervalMs?: number;
  /** Distinct (group, reason) pairs followed per interval; past it, one count for the rest (default 200). */
  maxKinds?: number;
}

interface Kind {
  topic: string;
  reason: string;
  repeats: number;
  /** A few of the other topics the repeats came on (bounded). */
  topics: Set<string>;
}

/** Characters of a reason that tell kinds apart. */
const MAX_KEY_REASON = 512;
/** Topics named in a summary line besides the first. */
const TOPICS_SHOWN = 5;

/**
 * Warn lines for input we drop, at a rate a log can take. The first occurrence of each (group,
 * reason) in an interval is logged at once, whole, with its topic and reason; repeats (from any
 * topic of the group, e.g. any EVSE's copy of one variable) are counted, and when the interval ends
 * one summary line per kind gives the count and a few of the topics. A hostile peer publishing 200
 * invalid messages a second thus costs a few lines a second, not 200; the caller's metric still counts
 * every message. Memory is bounded by `maxKinds`.
 */
export class RepeatedWarnings {
  private readonly kinds = new Map<string, Kind>();
  private overflow = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly intervalMs: number;
  private readonly maxKinds: number;

  constructor(
    private readonly log: Logger,
    private readonly options: RepeatedWarningsOptions,
  ) {
    this.intervalMs = options.intervalMs ?? 60_000;
    this.maxKinds = options.maxKinds ?? 200;
  }

  /** `group` is what makes repeats alike besides the reason (e.g. the e2m variable name), `topic` where this one came. */
  warn(group: string, topic: string, reason: string): void {
    // A reason quoting a long path or value still makes a bounded key.
    const key = `${group}\u0000${reason.slice(0, MAX_KEY_REASON)}`;
    const kind = this.kinds.get(key);
    this.arm();
    if (kind) {
      kind.repeats += 1;
      if (kind.topics.size < TOPICS_SHOWN && topic !== kind.topic) kind.topics.add(topic);
      return;
    }
    if (this.kinds.size >= this.maxKinds) {
      this.overflow += 1;
      return;
    }
    this.kinds.set(key, { topic, reason, repeats: 0, topics: new Set() });
    this.log.warn({ topic, reason }, this.options.message);
  }

  /** Ends the interval: a summary line per kind that repeated, then every kind is new again. */
  flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const intervalS = this.intervalMs / 1000;
    for (const kind of this.kinds.values()) {
      if (kind.repeats === 0) continue;
      this.log.warn({ topic: kind.topic, reason: kind.reason, repeats: kind.repeats, interval_s: intervalS, also_on: [...kind.topics] }, `${this.options.message} (repeated)`);
    }
    if (this.overflow > 0) {
      this.log.warn({ repeats: this.overflow, interval_s: intervalS, kinds_followed: this.maxKinds }, `${this.options.message} (repeated, more kinds than followed)`);
    }
    this.kinds.clear();
    this.overflow = 0;
  }

  private arm(): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => this.flush(), this.intervalMs);
    // Counting repeats must not keep a stopping process alive.
    this.timer.unref?.();
  }
}
