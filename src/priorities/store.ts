import { mkdir, open as openFile, readFile, readdir, rename, unlink } from 'node:fs/promises';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { Subject, type Observable } from 'rxjs';
import {
  PRIORITY_MAX,
  PRIORITY_MIN,
  isPriorityScope,
  isValidPriority,
  connectorKey,
  type PriorityRecord,
  type PriorityScope,
} from './model.js';
import { parseHold, type HoldRecord } from './holds.js';
import { parseInterruptions, type InterruptionRecord } from './interruptions.js';

export const STORE_FILE_NAME = 'priorities.json';
const FORMAT = 'evse-priority/priorities';
const FORMAT_VERSION = 1;
const TEMP_PREFIX = `${STORE_FILE_NAME}.tmp-`;

/** Structurally compatible with pino; the store only reports recoveries and failed writes. */
export interface StoreLogger {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface PriorityStoreOptions {
  logger?: StoreLogger;
}

export interface PriorityInput {
  module_id: string;
  connector_id: number;
  priority: number;
  scope: PriorityScope;
  set_by: string;
}

export interface WriteConditions {
  /** Only write if the record currently exists with exactly this version (HTTP If-Match). */
  ifMatchVersion?: number;
}

export type PriorityChange =
  | { type: 'upsert'; key: string; record: PriorityRecord; created: boolean; previous: PriorityRecord | undefined }
  | { type: 'delete'; key: string; record: PriorityRecord; reason: 'delete' | 'session_finished' }
  | { type: 'clear'; key?: undefined; record?: undefined; removed: PriorityRecord[] };

/** The store file exists but cannot be trusted; it is left exactly as found for an operator to inspect. */
export class StoreCorruptError extends Error {
  override readonly name = 'StoreCorruptError';
  readonly code = 'store_corrupt';
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`priority store ${file} is corrupt: ${problem} (left untouched; fix or move it aside to start)`);
  }
}

export class PreconditionFailedError extends Error {
  override readonly name = 'PreconditionFailedError';
  readonly code = 'precondition_failed';
  constructor(
    readonly key: string,
    readonly expectedVersion: number,
    /** undefined when the record does not exist. */
    readonly currentVersion: number | undefined,
  ) {
    super(
      currentVersion === undefined
        ? `priority ${key}: If-Match version ${expectedVersion} but no record exists`
        : `priority ${key}: If-Match version ${expectedVersion} but current version is ${currentVersion}`,
    );
  }
}

export class InvalidPriorityError extends RangeError {
  override readonly name = 'InvalidPriorityError';
  readonly code = 'invalid_priority';
  constructor(
    readonly field: keyof PriorityInput | 'ifMatchVersion',
    message: string,
  ) {
    super(message);
  }
}

interface State {
  records: Map<string, PriorityRecord>;
  /** Last version handed out per key, kept after deletion so a re-created record never reuses an ETag. */
  versions: Map<string, number>;
  /** Our holds per module_id (see holds.ts): who paused what, durable across restarts. */
  holds: Map<string, HoldRecord>;
  /** How often we interrupted the session on each module_id (see interruptions.ts): at most one per EVSE. */
  interruptions: Map<string, InterruptionRecord>;
}

interface StoreFile {
  format: typeof FORMAT;
  format_version: typeof FORMAT_VERSION;
  records: PriorityRecord[];
  versions: Record<string, number>;
  /** Optional in version 1: a file written before holds existed has none, and an older build ignores them. */
  holds?: HoldRecord[];
  /** Optional in version 1 too: a file written before the count was kept has none (every session starts at 0). */
  interruptions?: InterruptionRecord[];
}

/** Applies one mutation to the draft state; throws (without touching the draft) to reject just this operation. */
type Mutation<T> = (draft: State) => { result: T; change?: PriorityChange; dirty?: boolean };

interface Pending {
  mutate: Mutation<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * Durable priority records in `<dir>/priorities.json`.
 *
 * A write is acknowledged (its promise resolves, changes$ emits) only after the new file content is on
 * disk: temp file in the same directory, fsync, rename over the target, fsync the directory. Operations
 * run strictly in call order; operations that arrive while a write is in flight are committed together in
 * the next single write (group commit), which keeps fsync cost per operation low under bursts. Memory is
 * only updated after the write succeeded, so a failed write leaves the store exactly as before.
 */
export class PriorityStore {
  private state: State;
  private queue: Pending[] = [];
  // A plain flag cleared synchronously when the queue runs dry: an op enqueued by a resolved caller's
  // continuation must see it cleared, which a promise-based marker only achieves a few microtasks later.
  private draining = false;
  private drained: Promise<void> = Promise.resolve();
  private tempCounter = 0;
  private closed = false;
  private readonly changes = new Subject<PriorityChange>();
  readonly changes$: Observable<PriorityChange> = this.changes.asObservable();

  private constructor(
    readonly dir: string,
    readonly file: string,
    state: State,
    private readonly logger: StoreLogger | undefined,
  ) {
    this.state = state;
  }

  static async open(dir = './data', options: PriorityStoreOptions = {}): Promise<PriorityStore> {
    const absDir = resolvePath(dir);
    const created = await mkdir(absDir, { recursive: true });
    if (created !== undefined) {
      // New directory entries must survive a crash too, or the first acknowledged write could vanish with them.
      const top = dirname(created);
      for (let d = dirname(absDir); ; d = dirname(d)) {
        await fsyncDir(d);
        if (d === top || d === dirname(d)) break;
      }
    }
    const file = join(absDir, STORE_FILE_NAME);
    await removeStaleTempFiles(absDir, options.logger);
    const state = await loadState(file);
    return new PriorityStore(absDir, file, state, options.logger);
  }

  get size(): number {
    return this.state.records.size;
  }

  get(module_id: string, connector_id: number): PriorityRecord | undefined {
    const record = this.state.records.get(connectorKey(module_id, connector_id));
    return record && { ...record };
  }

  /** Oldest first by set_at, ties broken by module_id then connector_id. */
  list(): PriorityRecord[] {
    return sortRecords(this.state.records.values()).map((r) => ({ ...r }));
  }

  async upsert(
    input: PriorityInput,
    conditions: WriteConditions = {},
  ): Promise<{ record: PriorityRecord; created: boolean }> {
    // Validated before queueing so a bad request never waits behind, or batches with, other writes.
    validateInput(input);
    validateConditions(conditions);
    const key = connectorKey(input.module_id, input.connector_id);
    return this.enqueue((draft) => {
      const previous = draft.records.get(key);
      checkPrecondition(key, previous, conditions);
      const version = Math.max(previous?.version ?? 0, draft.versions.get(key) ?? 0) + 1;
      const record: PriorityRecord = {
        module_id: input.module_id,
        connector_id: input.connector_id,
        priority: input.priority,
        scope: input.scope,
        set_by: input.set_by,
        set_at: new Date().toISOString(),
        version,
      };
      draft.records.set(key, record);
      draft.versions.set(key, version);
      const created = previous === undefined;
      return {
        result: { record: { ...record }, created },
        change: { type: 'upsert', key, record: { ...record }, created, previous: previous && { ...previous } },
      };
    });
  }

  /** Resolves to whether a record existed (and was removed). */
  async delete(module_id: string, connector_id: number, conditions: WriteConditions = {}): Promise<boolean> {
    validateConditions(conditions);
    const key = connectorKey(module_id, connector_id);
    return this.enqueue((draft) => {
      const existing = draft.records.get(key);
      checkPrecondition(key, existing, conditions);
      if (!existing) return { result: false };
      draft.records.delete(key);
      return { result: true, change: { type: 'delete', key, record: { ...existing }, reason: 'delete' } };
    });
  }

  /** Removes every record; resolves to how many there were. */
  clear(): Promise<number> {
    return this.enqueue((draft) => {
      if (draft.records.size === 0) return { result: 0 };
      const removed = sortRecords(draft.records.values()).map((r) => ({ ...r }));
      draft.records.clear();
      return { result: removed.length, change: { type: 'clear', removed } };
    });
  }

  /** Drops the connector's record if it is session-scoped (called at SessionFinished); persistent records stay. */
  clearSessionScoped(module_id: string, connector_id: number): Promise<PriorityRecord | undefined> {
    const key = connectorKey(module_id, connector_id);
    return this.enqueue((draft) => {
      const existing = draft.records.get(key);
      if (!existing || existing.scope !== 'session') return { result: undefined };
      draft.records.delete(key);
      return {
        result: { ...existing },
        change: { type: 'delete', key, record: { ...existing }, reason: 'session_finished' },
      };
    });
  }

  /** Our holds, in module_id order. */
  holds(): HoldRecord[] {
    return [...this.state.holds.values()].sort(compareByModule).map((h) => ({ ...h }));
  }

  /**
   * Records (or replaces) our hold on an EVSE; resolves once it is on disk, like any acknowledged write.
   * Holds are not priority changes: changes$ does not emit.
   */
  putHold(hold: HoldRecord): Promise<void> {
    const record = { ...hold };
    return this.enqueue((draft) => {
      draft.holds.set(record.module_id, record);
      return { result: undefined, dirty: true };
    });
  }

  /** Forgets our hold on an EVSE; resolves to whether there was one. */
  dropHold(module_id: string): Promise<boolean> {
    return this.enqueue((draft) => {
      if (!draft.holds.delete(module_id)) return { result: false };
      return { result: true, dirty: true };
    });
  }

  /** How often we interrupted the session on each EVSE, in module_id order. */
  interruptions(): InterruptionRecord[] {
    return [...this.state.interruptions.values()].sort(compareByModule).map((r) => ({ ...r }));
  }

  /** Records (or replaces) the count of an EVSE's session; resolves once it is on disk. changes$ does not emit. */
  putInterruptions(record: InterruptionRecord): Promise<void> {
    const copy = { ...record };
    return this.enqueue((draft) => {
      draft.interruptions.set(copy.module_id, copy);
      return { result: undefined, dirty: true };
    });
  }

  /** Forgets the count of an EVSE (its session ended); resolves to whether there was one. */
  dropInterruptions(module_id: string): Promise<boolean> {
    return this.enqueue((draft) => {
      if (!draft.interruptions.delete(module_id)) return { result: false };
      return { result: true, dirty: true };
    });
  }

  /** Waits for queued writes, then completes changes$. Later writes are rejected. */
  async close(): Promise<void> {
    this.closed = true;
    await this.drained;
    this.changes.complete();
  }

  private enqueue<T>(mutate: Mutation<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('priority store is closed'));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ mutate, resolve: resolve as (value: unknown) => void, reject });
      if (!this.draining) {
        this.draining = true;
        this.drained = this.drain();
      }
    });
  }

  /** Never rejects: every failure is routed to the operations' own promises. */
  private async drain(): Promise<void> {
    for (;;) {
      if (this.queue.length === 0) {
        this.draining = false;
        return;
      }
      const batch = this.queue.splice(0);
      const draft: State = {
        records: new Map(this.state.records),
        versions: new Map(this.state.versions),
        holds: new Map(this.state.holds),
        interruptions: new Map(this.state.interruptions),
      };
      const outcomes: ({ ok: true; result: unknown; change?: PriorityChange } | { ok: false; error: unknown })[] = [];
      let dirty = false;
      for (const op of batch) {
        try {
          const { result, change, dirty: changed } = op.mutate(draft);
          if (change || changed) dirty = true;
          outcomes.push({ ok: true, result, change });
        } catch (error) {
          outcomes.push({ ok: false, error });
        }
      }
      if (dirty) {
        try {
          await this.persist(draft);
        } catch (error) {
          try {
            this.logger?.error({ err: error, file: this.file, operations: batch.length }, 'priority store write failed');
          } catch {
            // A throwing logger must not wedge the queue.
          }
          outcomes.forEach((outcome, i) => (batch[i] as Pending).reject(outcome.ok ? error : outcome.error));
          continue;
        }
        this.state = draft;
      }
      outcomes.forEach((outcome, i) => {
        const op = batch[i] as Pending;
        if (outcome.ok) {
          op.resolve(outcome.result);
          if (outcome.change) this.changes.next(outcome.change);
        } else {
          op.reject(outcome.error);
        }
      });
    }
  }

  private async persist(state: State): Promise<void> {
    const content: StoreFile = {
      format: FORMAT,
      format_version: FORMAT_VERSION,
      records: sortRecords(state.records.values()),
      versions: Object.fromEntries([...state.versions].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
      holds: [...state.holds.values()].sort(compareByModule),
      interruptions: [...state.interruptions.values()].sort(compareByModule),
    };
    const temp = join(this.dir, `${TEMP_PREFIX}${process.pid}-${++this.tempCounter}`);
    const handle = await openFile(temp, 'wx', 0o644);
    try {
      try {
        await handle.writeFile(`${JSON.stringify(content, null, 2)}\n`, 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, this.file);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw error;
    }
    // If this fails the renamed file may already hold the batch; it is still reported failed (outcome
    // unknown, as with any database) and the next successful write supersedes it from the old state.
    await fsyncDir(this.dir);
  }
}

async function fsyncDir(dir: string): Promise<void> {
  // Windows cannot open directories for fsync; NTFS rename is metadata-journaled anyway.
  if (process.platform === 'win32') return;
  const handle = await openFile(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function removeStaleTempFiles(dir: string, logger: StoreLogger | undefined): Promise<void> {
  // A temp file is only ever renamed into place before a write is acknowledged, so leftovers hold unacknowledged data.
  for (const name of await readdir(dir)) {
    if (!name.startsWith(TEMP_PREFIX)) continue;
    const path = join(dir, name);
    try {
      await unlink(path);
      logger?.warn({ file: path }, 'removed temp file left by an interrupted priority store write');
    } catch (error) {
      logger?.warn({ file: path, err: error }, 'could not remove stale priority store temp file; ignoring it');
    }
  }
}

async function loadState(file: string): Promise<State> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return { records: new Map(), versions: new Map(), holds: new Map(), interruptions: new Map() };
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new StoreCorruptError(file, `invalid JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  const problem = (msg: string): never => {
    throw new StoreCorruptError(file, msg);
  };
  if (!isObject(json)) return problem('top level is not an object');
  if (json.format !== FORMAT) problem(`"format" is ${JSON.stringify(json.format)}, expected ${JSON.stringify(FORMAT)}`);
  if (json.format_version !== FORMAT_VERSION) {
    problem(`unsupported "format_version" ${JSON.stringify(json.format_version)} (this build reads ${FORMAT_VERSION})`);
  }
  if (!Array.isArray(json.records)) return problem('"records" is not an array');
  if (!isObject(json.versions)) return problem('"versions" is not an object');

  const records = new Map<string, PriorityRecord>();
  json.records.forEach((raw: unknown, i: number) => {
    const record = parseRecord(raw, (msg) => problem(`records[${i}]: ${msg}`));
    const key = connectorKey(record.module_id, record.connector_id);
    if (records.has(key)) problem(`records[${i}]: duplicate record for ${key}`);
    records.set(key, record);
  });
  const versions = new Map<string, number>();
  for (const [key, v] of Object.entries(json.versions)) {
    if (!isPositiveInt(v)) problem(`versions[${JSON.stringify(key)}] is not a positive integer`);
    versions.set(key, v as number);
  }
  for (const [key, record] of records) {
    if ((versions.get(key) ?? 0) < record.version) problem(`versions[${JSON.stringify(key)}] is behind record version ${record.version}`);
  }
  const holds = new Map<string, HoldRecord>();
  if (json.holds !== undefined) {
    if (!Array.isArray(json.holds)) problem('"holds" is not an array');
    (json.holds as unknown[]).forEach((raw, i) => {
      const hold = parseHold(raw, (msg) => problem(`holds[${i}]: ${msg}`));
      if (holds.has(hold.module_id)) problem(`holds[${i}]: duplicate hold for ${hold.module_id}`);
      holds.set(hold.module_id, hold);
    });
  }
  const interruptions = new Map<string, InterruptionRecord>();
  if (json.interruptions !== undefined) {
    if (!Array.isArray(json.interruptions)) problem('"interruptions" is not an array');
    (json.interruptions as unknown[]).forEach((raw, i) => {
      const record = parseInterruptions(raw, (msg) => problem(`interruptions[${i}]: ${msg}`));
      if (interruptions.has(record.module_id)) problem(`interruptions[${i}]: duplicate count for ${record.module_id}`);
      interruptions.set(record.module_id, record);
    });
  }
  return { records, versions, holds, interruptions };
}

function parseRecord(raw: unknown, problem: (msg: string) => never): PriorityRecord {
  if (!isObject(raw)) return problem('not an object');
  const { module_id, connector_id, priority, scope, set_by, set_at, version } = raw;
  if (typeof module_id !== 'string' || module_id === '') return problem('module_id must be a non-empty string');
  if (!isPositiveInt(connector_id)) return problem('connector_id must be a positive integer');
  if (!isValidPriority(priority)) return problem(`priority must be an integer ${PRIORITY_MIN}..${PRIORITY_MAX}, got ${JSON.stringify(priority)}`);
  if (!isPriorityScope(scope)) return problem(`scope must be "session" or "persistent", got ${JSON.stringify(scope)}`);
  if (typeof set_by !== 'string') return problem('set_by must be a string');
  if (typeof set_at !== 'string' || Number.isNaN(Date.parse(set_at))) return problem('set_at must be an ISO timestamp');
  if (!isPositiveInt(version)) return problem('version must be a positive integer');
  return { module_id, connector_id, priority, scope, set_by, set_at, version };
}

function validateInput(input: PriorityInput): void {
  if (typeof input.module_id !== 'string' || input.module_id === '') {
    throw new InvalidPriorityError('module_id', 'module_id must be a non-empty string');
  }
  if (!isPositiveInt(input.connector_id)) {
    throw new InvalidPriorityError('connector_id', `connector_id must be a positive integer, got ${String(input.connector_id)}`);
  }
  if (!isValidPriority(input.priority)) {
    throw new InvalidPriorityError(
      'priority',
      `priority must be an integer ${PRIORITY_MIN}..${PRIORITY_MAX}, got ${String(input.priority)}`,
    );
  }
  if (!isPriorityScope(input.scope)) {
    throw new InvalidPriorityError('scope', `scope must be "session" or "persistent", got ${String(input.scope)}`);
  }
  if (typeof input.set_by !== 'string') throw new InvalidPriorityError('set_by', 'set_by must be a string');
}

function validateConditions(conditions: WriteConditions): void {
  const v = conditions.ifMatchVersion;
  if (v !== undefined && !isPositiveInt(v)) {
    throw new InvalidPriorityError('ifMatchVersion', `ifMatchVersion must be a positive integer, got ${String(v)}`);
  }
}

function checkPrecondition(key: string, current: PriorityRecord | undefined, conditions: WriteConditions): void {
  const expected = conditions.ifMatchVersion;
  if (expected !== undefined && current?.version !== expected) {
    throw new PreconditionFailedError(key, expected, current?.version);
  }
}

/**
 * Oldest first by set_at, ties broken by module_id then connector_id. Each set_at is parsed once, not
 * twice per comparison: the store sorts every record on each write (1000 records, several writes a
 * second under the soak's API load).
 */
function sortRecords(records: Iterable<PriorityRecord>): PriorityRecord[] {
  // Parsed rather than compared as strings: a hand-edited file may use offsets or omit milliseconds.
  const keyed = Array.from(records, (record) => ({ at: Date.parse(record.set_at), record }));
  keyed.sort(({ at: ta, record: a }, { at: tb, record: b }) => {
    if (ta !== tb) return ta - tb;
    if (a.module_id !== b.module_id) return a.module_id < b.module_id ? -1 : 1;
    return a.connector_id - b.connector_id;
  });
  return keyed.map((k) => k.record);
}

function compareByModule(a: { module_id: string }, b: { module_id: string }): number {
  return a.module_id < b.module_id ? -1 : a.module_id > b.module_id ? 1 : 0;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isPositiveInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1;
}

function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}
