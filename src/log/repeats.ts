import type { Logger } from './logger.js';

/** What ends an interval: an rxjs scheduler fits (a test's virtual clock); the default is setTimeout. */
export interface RepeatsTimer {
  schedule(work: () => void, delayMs: number): { unsubscribe(): void };
}

export interface RepeatedWarningsOptions {
  /** The line's message; the interval's summary lines say `<message> (repeated)`. */
  message: string;
  /** How long repeats of one kind are counted instead of logged (default 60 s). */
  intervalMs?: number;
  /** Distinct kinds followed per interval; past it, one count for the rest (default 200). */
  maxKinds?: number;
  timer?: RepeatsTimer;
}

type Fields = Readonly<Record<string, unknown>>;

interface Kind {
  where: string;
  /** The first occurrence's fields: its line, and the start of the summary's. */
  fields: Fields;
  repeats: number;
  /** A few of the other places the repeats came from (bounded). */
  others: Set<string>;
}

/** Characters of a reason that tell kinds apart. */
const MAX_KEY_REASON = 512;
/** Characters of any kind's key: a kind built from a peer's text stays bounded. */
const MAX_KEY = 1024;
/** Places named in a summary line besides the first. */
const PLACES_SHOWN = 5;

/** setTimeout, unref'd: counting repeats must not keep a stopping process alive. */
const REAL_TIMER: RepeatsTimer = {
  schedule(work, delayMs) {
    const handle = setTimeout(work, delayMs);
    handle.unref?.();
    return { unsubscribe: () => clearTimeout(handle) };
  },
};

/**
 * Warn lines for events a peer can repeat at will (input we drop, an EVSE-ID claimed twice, a
 * heartbeat counter reset), at a rate a log can take. The first occurrence of each kind in an interval
 * is logged at once, whole; repeats (from any place: any EVSE's copy of one variable, any module) are
 * counted, and when the interval ends one summary line per kind gives the count and a few of the
 * places. A hostile peer publishing 200 invalid messages a second thus costs a few lines a second, not
 * 200; the caller's metric still counts every event. Memory is bounded by `maxKinds`.
 */
export class RepeatedWarnings {
  private readonly kinds = new Map<string, Kind>();
  private overflow = 0;
  private pending: { unsubscribe(): void } | undefined;
  private readonly intervalMs: number;
  private readonly maxKinds: number;
  private readonly timer: RepeatsTimer;

  constructor(
    private readonly log: Logger,
    private readonly options: RepeatedWarningsOptions,
  ) {
    this.intervalMs = options.intervalMs ?? 60_000;
    this.maxKinds = options.maxKinds ?? 200;
    this.timer = options.timer ?? REAL_TIMER;
  }

  /** Dropped input: `group` is what makes repeats alike besides the reason (e.g. the e2m variable name), `topic` where this one came. */
  warn(group: string, topic: string, reason: string): void {
    // A reason quoting a long path or value still makes a bounded key.
    this.warnKind(`${group}\u0000${reason.slice(0, MAX_KEY_REASON)}`, topic, { topic, reason });
  }

  /** One event of `kind` at `where` (a topic, a module id); `fields` is what its line says if it is the first. */
  warnKind(kind: string, where: string, fields: Fields): void {
    const key = kind.slice(0, MAX_KEY);
    const seen = this.kinds.get(key);
    this.arm();
    if (seen) {
      seen.repeats += 1;
      if (seen.others.size < PLACES_SHOWN && where !== seen.where) seen.others.add(where);
      return;
    }
    if (this.kinds.size >= this.maxKinds) {
      this.overflow += 1;
      return;
    }
    this.kinds.set(key, { where, fields, repeats: 0, others: new Set() });
    this.log.warn(fields, this.options.message);
  }

  /** Ends the interval: a summary line per kind that repeated, then every kind is new again. */
  flush(): void {
    this.pending?.unsubscribe();
    this.pending = undefined;
    const intervalS = this.intervalMs / 1000;
    for (const kind of this.kinds.values()) {
      if (kind.repeats === 0) continue;
      this.log.warn({ ...kind.fields, repeats: kind.repeats, interval_s: intervalS, also_on: [...kind.others] }, `${this.options.message} (repeated)`);
    }
    if (this.overflow > 0) {
      this.log.warn({ repeats: this.overflow, interval_s: intervalS, kinds_followed: this.maxKinds }, `${this.options.message} (repeated, more kinds than followed)`);
    }
    this.kinds.clear();
    this.overflow = 0;
  }

  private arm(): void {
    if (this.pending !== undefined) return;
    this.pending = this.timer.schedule(() => {
      this.pending = undefined;
      this.flush();
    }, this.intervalMs);
  }
}
