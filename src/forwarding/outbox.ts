import { closeSync, fsyncSync, openSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { Logger } from '../log/logger.js';
import type { OcppKind } from './ocpp-schemas.js';

// The durable outbox. Segment files hold one record per line, `<crc32 hex> <json>`:
//   {"e":{seq,st,k,t,b}}  an event: sequence number, station, kind, created-at (ms), body
//   {"v":n,"s":{...}}     the caller's keyed state in full (the mapping's state per EVSE), version n
//   {"v":n,"d":{...}}     the keys that changed since, version n (merged over the last full one on load)
// A batch of events and the state changes that produced them go out in one write and one fsync, so after
// a crash the state on disk never runs ahead of or behind the events on disk. `acks.log` lists the
// sequence numbers that are done (delivered, dead-lettered or dropped), one per line, written before
// the next request to the same station goes out. A segment whose events are all done is deleted;
// when the disk budget is short, the live events of the oldest segment move to the newest one.

export interface OutboxEntry {
  readonly seq: number;
  readonly station: string;
  readonly kind: OcppKind;
  /** When the event was created (ms since epoch), for latency and age. */
  readonly createdAt: number;
  /** The request body, serialized once. */
  readonly body: string;
  /** Bytes this entry takes on disk. */
  readonly bytes: number;
}

export interface NewEntry {
  station: string;
  kind: OcppKind;
  createdAt: number;
  body: string;
}

export interface OutboxOptions {
  dir: string;
  maxBytes: number;
  logger: Logger;
  /** Called once per entry dropped to honour maxBytes (always a MeterValues). */
  onDrop?: (entry: OutboxEntry) => void;
  /** Rolled segments are at most this big (default: an eighth of maxBytes, between 64 KiB and 8 MiB). */
  segmentBytes?: number;
}

export interface OutboxLoad {
  outbox: Outbox;
  /** The caller's keyed state as last written (full snapshots and changes merged). */
  state: KeyedState;
  /** Lines that failed their checksum or JSON (a torn last line after a power cut, or damage). */
  corruptLines: number;
}

interface Segment {
  id: number;
  path: string;
  bytes: number;
  /** Every event this segment holds. */
  all: Set<number>;
  /** Those of them not done yet. */
  live: Set<number>;
}

const SEGMENT = /^seg-(\d{8})\.log$/;
const segmentName = (id: number) => `seg-${String(id).padStart(8, '0')}.log`;

function framed(json: string): string {
  return `${crc32(json).toString(16).padStart(8, '0')} ${json}\n`;
}

function line(record: unknown): string {
  return framed(JSON.stringify(record));
}

/** The body is already JSON: spliced in as is rather than parsed and serialized again. */
function entryLine(e: { seq: number; station: string; kind: OcppKind; createdAt: number; body: string }): string {
  return framed(`{"e":{"seq":${e.seq},"st":${JSON.stringify(e.station)},"k":"${e.kind}","t":${e.createdAt},"b":${e.body}}}`);
}

function parseLine(text: string): unknown {
  const space = text.indexOf(' ');
  if (space !== 8) return undefined;
  const json = text.slice(9);
  if (Number.parseInt(text.slice(0, 8), 16) !== crc32(json)) return undefined;
  try {
    return JSON.parse(json) as unknown;
  } catch {
    return undefined;
  }
}

/** Caller state, by key; each append writes only the keys that changed. */
export type KeyedState = Record<string, unknown>;

interface EntryRecord {
  e: { seq: number; st: string; k: OcppKind; t: number; b: unknown };
}
interface StateRecord {
  v: number;
  s?: KeyedState;
  d?: KeyedState;
}

function isEntryRecord(r: unknown): r is EntryRecord {
  const e = (r as Partial<EntryRecord> | null)?.e;
  return typeof e === 'object' && e !== null && typeof e.seq === 'number' && typeof e.st === 'string' && (e.k === 'TransactionEvent' || e.k === 'MeterValues');
}
function isStateRecord(r: unknown): r is StateRecord {
  const rec = r as Partial<StateRecord> | null;
  return typeof rec?.v === 'number' && (typeof rec.s === 'object' || typeof rec.d === 'object');
}

export class Outbox {
  private readonly pending = new Map<number, OutboxEntry>();
  private readonly byStation = new Map<string, OutboxEntry[]>();
  private readonly segments: Segment[] = [];
  private readonly segmentOf = new Map<number, Segment>();
  private active!: { segment: Segment; handle: FileHandle };
  private acksFd = -1;
  private acksBytes = 0;
  private ackedSinceSync = false;
  private nextSeq = 1;
  private stateVersion = 0;
  /** Everything written so far, merged: the head of every new segment. */
  private state: KeyedState = {};
  private pendingBytes = 0;
  private readonly segmentBytes: number;
  private closed = false;
  private chain: Promise<void> = Promise.resolve();

  private constructor(private readonly options: OutboxOptions) {
    // Small against the budget: a segment is the unit in which disk comes back.
    this.segmentBytes = options.segmentBytes ?? Math.min(8 << 20, Math.max(1 << 10, Math.floor(options.maxBytes / 16)));
  }

  /** Opens (or creates) the outbox in `dir` and loads every event not yet done, in order. */
  static async open(options: OutboxOptions): Promise<OutboxLoad> {
    const box = new Outbox(options);
    const loaded = await box.load();
    return { outbox: box, ...loaded };
  }

  get depth(): number {
    return this.pending.size;
  }

  get queuedBytes(): number {
    return this.pendingBytes;
  }

  /** Bytes on disk: segments plus the acks file. */
  get diskBytes(): number {
    return this.segments.reduce((sum, s) => sum + s.bytes, 0) + this.acksBytes;
  }

  oldestCreatedAt(): number | undefined {
    const first = this.pending.values().next();
    return first.done ? undefined : first.value.createdAt;
  }

  /** Stations with something waiting. */
  stations(): string[] {
    return [...this.byStation.keys()];
  }

  /** The oldest waiting entry of a station: the only one that may be in flight. */
  head(station: string): OutboxEntry | undefined {
    return this.byStation.get(station)?.[0];
  }

  /**
   * Writes a batch and the caller's state in one write and one fsync; resolves with the entries
   * once they are on disk, and only then may they be sent. Batches are written in call order.
   */
  append(batch: readonly NewEntry[], changed: KeyedState | undefined): Promise<OutboxEntry[]> {
    const run = this.chain.then(() => this.write(batch, changed));
    this.chain = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Done with an entry (delivered, dead-lettered or dropped): recorded before the station's next request goes out. */
  complete(entry: OutboxEntry): void {
    if (!this.pending.delete(entry.seq)) return;
    const queue = this.byStation.get(entry.station);
    if (queue) {
      const index = queue.indexOf(entry);
      if (index >= 0) queue.splice(index, 1);
      if (queue.length === 0) this.byStation.delete(entry.station);
    }
    this.pendingBytes -= entry.bytes;
    // A plain write reaches the page cache, which a kill -9 does not lose; fsync is batched (see syncAcks).
    const text = `${entry.seq}\n`;
    writeSync(this.acksFd, text);
    this.acksBytes += text.length;
    this.ackedSinceSync = true;
    const segment = this.segmentOf.get(entry.seq);
    this.segmentOf.delete(entry.seq);
    segment?.live.delete(entry.seq);
    if (segment && segment.live.size === 0 && segment !== this.active.segment) this.enqueue(() => this.dropSegments());
  }

  /** Flushes the acks file to the device (a power cut then repeats nothing delivered before it). */
  syncAcks(): void {
    if (!this.ackedSinceSync || this.acksFd < 0) return;
    this.ackedSinceSync = false;
    fsyncSync(this.acksFd);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.chain;
    this.syncAcks();
    await this.active.handle.close();
    closeSync(this.acksFd);
  }

  // ------------------------------------------------------------------ internals

  private enqueue(task: () => Promise<void>): void {
    const run = this.chain.then(task);
    this.chain = run.catch((err: Error) => this.options.logger.error({ err }, 'outbox maintenance failed'));
  }

  private async load(): Promise<{ state: KeyedState; corruptLines: number }> {
    const { dir } = this.options;
    await mkdir(dir, { recursive: true });
    const acked = new Set<number>();
    const acksPath = join(dir, 'acks.log');
    try {
      for (const text of (await readFile(acksPath, 'utf8')).split('\n')) if (/^\d+$/.test(text)) acked.add(Number(text));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const ids = (await readdir(dir))
      .map((name) => SEGMENT.exec(name)?.[1])
      .filter((id): id is string => id !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    const stateRecords: StateRecord[] = [];
    let corruptLines = 0;
    const found: OutboxEntry[] = [];
    const seen = new Set<number>();
    for (const id of ids) {
      const path = join(dir, segmentName(id));
      const text = await readFile(path, 'utf8');
      const segment: Segment = { id, path, bytes: Buffer.byteLength(text), all: new Set(), live: new Set() };
      const lines = text.split('\n');
      lines.forEach((raw, index) => {
        if (raw === '') return;
        const record = parseLine(raw);
        if (record === undefined) {
          corruptLines += 1;
          const last = index >= lines.length - 2;
          this.options.logger.warn({ segment: path, line: index + 1 }, last ? 'outbox: torn last line ignored' : 'outbox: damaged line skipped');
          return;
        }
        if (isStateRecord(record)) {
          stateRecords.push(record);
          return;
        }
        if (!isEntryRecord(record)) return;
        const e = record.e;
        this.nextSeq = Math.max(this.nextSeq, e.seq + 1);
        segment.all.add(e.seq);
        // A relocation interrupted by a crash leaves an event in two segments: the seq says it is one.
        if (acked.has(e.seq) || seen.has(e.seq)) return;
        seen.add(e.seq);
        found.push({ seq: e.seq, station: e.st, kind: e.k, createdAt: e.t, body: JSON.stringify(e.b), bytes: Buffer.byteLength(raw) + 1 });
        segment.live.add(e.seq);
        this.segmentOf.set(e.seq, segment);
      });
      this.segments.push(segment);
    }
    found.sort((a, b) => a.seq - b.seq);
    for (const entry of found) this.track(entry);
    // Acks of events no longer on disk are garbage: the file is rewritten with the ones that still matter.
    this.rewriteAcks();
    // A full snapshot replaces, a change merges; versions say which came last across segments.
    stateRecords.sort((a, b) => a.v - b.v);
    for (const r of stateRecords) {
      this.stateVersion = Math.max(this.stateVersion, r.v);
      this.state = r.s ? { ...r.s } : { ...this.state, ...r.d };
    }
    await this.openActive(this.segments.at(-1)?.id ?? 0);
    // Segments left with nothing live go now.
    await this.dropSegments();
    return { state: { ...this.state }, corruptLines };
  }

  private track(entry: OutboxEntry): void {
    this.pending.set(entry.seq, entry);
    this.pendingBytes += entry.bytes;
    const queue = this.byStation.get(entry.station);
    if (queue) queue.push(entry);
    else this.byStation.set(entry.station, [entry]);
  }

  /**
   * Rewrites acks.log with the done events of the segments still on disk. Synchronous on purpose:
   * an ack written by `complete` while an asynchronous rewrite was under way would be lost.
   */
  private rewriteAcks(): void {
    const path = join(this.options.dir, 'acks.log');
    const tmp = `${path}.tmp`;
    let text = '';
    for (const s of this.segments) for (const seq of s.all) if (!s.live.has(seq)) text += `${seq}\n`;
    const fd = openSync(tmp, 'w');
    try {
      writeFileSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (this.acksFd >= 0) closeSync(this.acksFd);
    renameSync(tmp, path);
    this.acksFd = openSync(path, 'a');
    this.acksBytes = Buffer.byteLength(text);
    this.ackedSinceSync = false;
  }

  /** A fresh segment after `lastId`, starting with the current state so deleting older segments never loses it. */
  private async openActive(lastId: number): Promise<void> {
    const id = lastId + 1;
    const path = join(this.options.dir, segmentName(id));
    const handle = await open(path, 'a');
    const segment: Segment = { id, path, bytes: 0, all: new Set(), live: new Set() };
    const head = line({ v: ++this.stateVersion, s: this.snapshot() });
    await handle.write(head);
    await handle.datasync();
    segment.bytes = Buffer.byteLength(head);
    await this.syncDir();
    this.segments.push(segment);
    this.active = { segment, handle };
  }

  /** The full state without empty entries: most EVSEs of a big site are idle, and a missing key reads as empty. */
  private snapshot(): KeyedState {
    return Object.fromEntries(Object.entries(this.state).filter(([, v]) => JSON.stringify(v) !== '{}'));
  }

  private async syncDir(): Promise<void> {
    const handle = await open(this.options.dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  private async write(batch: readonly NewEntry[], changed: KeyedState | undefined): Promise<OutboxEntry[]> {
    if (this.closed) throw new Error('outbox closed');
    const entries: OutboxEntry[] = [];
    let text = '';
    for (const n of batch) {
      const seq = this.nextSeq++;
      const l = entryLine({ seq, ...n });
      text += l;
      entries.push({ seq, station: n.station, kind: n.kind, createdAt: n.createdAt, body: n.body, bytes: Buffer.byteLength(l) });
    }
    if (changed !== undefined) {
      text += line({ v: ++this.stateVersion, d: changed });
      this.state = { ...this.state, ...changed };
    }
    this.makeRoom(Buffer.byteLength(text));
    await this.appendActive(text, entries);
    for (const entry of entries) this.track(entry);
    this.syncAcks();
    // Done events, old state lines and acks beyond the budget: give back the oldest segments.
    while (this.diskBytes > this.options.maxBytes && this.diskBytes - this.pendingBytes > this.segmentBytes && (await this.relocateOldest()));
    if (this.active.segment.bytes >= this.segmentBytes) await this.roll();
    return entries;
  }

  /** One write and one fsync to the active segment; the entries are then on disk there. */
  private async appendActive(text: string, entries: readonly OutboxEntry[]): Promise<void> {
    const { segment, handle } = this.active;
    await handle.write(text);
    await handle.datasync();
    segment.bytes += Buffer.byteLength(text);
    for (const e of entries) {
      segment.all.add(e.seq);
      segment.live.add(e.seq);
      this.segmentOf.set(e.seq, segment);
    }
  }

  /**
   * Drops the oldest MeterValues until `incoming` more bytes fit in three quarters of the budget (the
   * rest is for state lines, acks and done events awaiting relocation); TransactionEvents are never dropped.
   */
  private makeRoom(incoming: number): void {
    const limit = (this.options.maxBytes * 3) / 4;
    if (this.pendingBytes + incoming <= limit) return;
    for (const entry of [...this.pending.values()]) {
      if (this.pendingBytes + incoming <= limit) break;
      if (entry.kind !== 'MeterValues') continue;
      this.complete(entry);
      this.options.onDrop?.(entry);
    }
  }

  private async roll(): Promise<void> {
    await this.active.handle.close();
    await this.openActive(this.active.segment.id);
    await this.dropSegments();
  }

  private async dropSegments(): Promise<void> {
    const done = this.segments.filter((s) => s.live.size === 0 && s !== this.active.segment);
    if (done.length === 0) return;
    for (const s of done) {
      await rm(s.path, { force: true });
      this.segments.splice(this.segments.indexOf(s), 1);
    }
    await this.syncDir();
    this.rewriteAcks();
  }

  /**
   * Moves the live events of the oldest segment to the end of the active one, then deletes it: the
   * disk held by done events comes back one segment at a time, never needing room for a second copy
   * of the queue. Order is by sequence number, not by place in a file, so a moved event keeps its
   * turn; a crash between the copy and the delete leaves it twice, and the load takes it once.
   */
  private async relocateOldest(): Promise<boolean> {
    const oldest = this.segments.find((s) => s !== this.active.segment);
    if (!oldest) return false;
    const moving = [...oldest.live].map((seq) => this.pending.get(seq)).filter((e): e is OutboxEntry => e !== undefined);
    if (moving.length > 0) await this.appendActive(moving.map(entryLine).join(''), moving);
    for (const e of moving) {
      // Still live, just elsewhere: not in the old segment's list, so its rewrite of acks.log never marks it done.
      oldest.all.delete(e.seq);
      oldest.live.delete(e.seq);
    }
    await this.dropSegments();
    return true;
  }
}

/** Appends one record to a JSON-lines file and fsyncs it (the dead-letter file). */
export async function appendDurably(path: string, record: unknown): Promise<void> {
  const handle = await open(path, 'a');
  try {
    await handle.write(`${JSON.stringify(record)}\n`);
    await handle.datasync();
  } finally {
    await handle.close();
  }
}

/** Bytes a directory's files take right now (tests, bench); a segment deleted meanwhile counts as gone. */
export async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(dir)) {
    try {
      total += (await stat(join(dir, name))).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return total;
}
