import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  InvalidPriorityError,
  PreconditionFailedError,
  PriorityStore,
  STORE_FILE_NAME,
  StoreCorruptError,
  type PriorityChange,
  type PriorityInput,
  type StoreLogger,
} from '../../../src/priorities/store.js';

let dir: string;
const opened: PriorityStore[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'prio-store-'));
});

afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(opened.splice(0).map((s) => s.close()));
  await rm(dir, { recursive: true, force: true });
});

async function openStore(at = dir, logger?: StoreLogger): Promise<PriorityStore> {
  const store = await PriorityStore.open(at, logger ? { logger } : {});
  opened.push(store);
  return store;
}

function input(overrides: Partial<PriorityInput> = {}): PriorityInput {
  return { module_id: 'evse_1', connector_id: 1, priority: 5, scope: 'persistent', set_by: 'api', ...overrides };
}

const storeFile = (): string => join(dir, STORE_FILE_NAME);
const onDisk = async (): Promise<{ records: { module_id: string; version: number }[] }> =>
  JSON.parse(await readFile(storeFile(), 'utf8')) as { records: { module_id: string; version: number }[] };

function collect(store: PriorityStore): PriorityChange[] {
  const events: PriorityChange[] = [];
  store.changes$.subscribe((e) => events.push(e));
  return events;
}

describe('PriorityStore writes', () => {
  it('creates, then replaces with an incremented version', async () => {
    const store = await openStore();
    const first = await store.upsert(input({ priority: 3, set_by: 'http:token-1' }));
    expect(first.created).toBe(true);
    expect(first.record).toMatchObject({ module_id: 'evse_1', connector_id: 1, priority: 3, scope: 'persistent', version: 1 });
    expect(Number.isNaN(Date.parse(first.record.set_at))).toBe(false);

    const second = await store.upsert(input({ priority: -2, scope: 'session', set_by: 'mqtt' }));
    expect(second.created).toBe(false);
    expect(second.record).toMatchObject({ priority: -2, scope: 'session', set_by: 'mqtt', version: 2 });
    expect(store.get('evse_1', 1)).toEqual(second.record);
    expect(store.size).toBe(1);
    expect((await onDisk()).records).toEqual([second.record]);
  });

  it('honours ifMatchVersion and rejects a mismatch without writing', async () => {
    const store = await openStore();
    await store.upsert(input());
    const ok = await store.upsert(input({ priority: 7 }), { ifMatchVersion: 1 });
    expect(ok.record.version).toBe(2);
    const before = await readFile(storeFile());

    const stale = store.upsert(input({ priority: 1 }), { ifMatchVersion: 1 });
    await expect(stale).rejects.toBeInstanceOf(PreconditionFailedError);
    await expect(stale).rejects.toMatchObject({ key: 'evse_1/1', expectedVersion: 1, currentVersion: 2 });
    await expect(store.upsert(input({ connector_id: 2 }), { ifMatchVersion: 1 })).rejects.toMatchObject({
      code: 'precondition_failed',
      currentVersion: undefined,
    });

    expect(store.get('evse_1', 1)?.priority).toBe(7);
    expect(store.get('evse_1', 2)).toBeUndefined();
    expect(await readFile(storeFile())).toEqual(before);
  });

  it('deletes, with and without a precondition', async () => {
    const store = await openStore();
    await store.upsert(input());
    await store.upsert(input({ connector_id: 2 }));
    await expect(store.delete('evse_1', 1, { ifMatchVersion: 9 })).rejects.toBeInstanceOf(PreconditionFailedError);
    expect(await store.delete('evse_1', 1, { ifMatchVersion: 1 })).toBe(true);
    expect(await store.delete('evse_1', 1)).toBe(false);
    expect(await store.delete('evse_1', 2)).toBe(true);
    expect(store.size).toBe(0);
    expect((await onDisk()).records).toEqual([]);
  });

  it('never reuses a version after delete and re-create, also across reopen', async () => {
    const store = await openStore();
    await store.upsert(input());
    await store.upsert(input());
    await store.delete('evse_1', 1);
    expect((await store.upsert(input())).record.version).toBe(3);
    await store.clear();
    await store.close();
    const again = await openStore();
    expect((await again.upsert(input())).record.version).toBe(4);
  });

  it('clears everything and reports the count', async () => {
    const store = await openStore();
    expect(await store.clear()).toBe(0);
    await store.upsert(input());
    await store.upsert(input({ module_id: 'evse_2' }));
    expect(await store.clear()).toBe(2);
    expect(store.list()).toEqual([]);
    expect((await onDisk()).records).toEqual([]);
  });

  it('clearSessionScoped removes only session-scoped records', async () => {
    const store = await openStore();
    const session = await store.upsert(input({ scope: 'session' }));
    await store.upsert(input({ connector_id: 2, scope: 'persistent' }));
    expect(await store.clearSessionScoped('evse_1', 2)).toBeUndefined();
    expect(await store.clearSessionScoped('evse_1', 3)).toBeUndefined();
    expect(await store.clearSessionScoped('evse_1', 1)).toEqual(session.record);
    expect(store.list().map((r) => r.connector_id)).toEqual([2]);
    expect((await onDisk()).records).toHaveLength(1);
  });

  it('lists oldest first by set_at, then by key', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const store = await openStore();
    vi.setSystemTime(new Date('2025-01-01T10:00:00.000Z'));
    await store.upsert(input({ module_id: 'evse_b', connector_id: 2 }));
    await store.upsert(input({ module_id: 'evse_b', connector_id: 1 }));
    await store.upsert(input({ module_id: 'evse_a', connector_id: 10 }));
    vi.setSystemTime(new Date('2024-12-31T10:00:00.000Z'));
    await store.upsert(input({ module_id: 'evse_z', connector_id: 1 }));
    vi.setSystemTime(new Date('2025-01-02T10:00:00.000Z'));
    await store.upsert(input({ module_id: 'evse_a', connector_id: 2 }));
    const order = store.list().map((r) => `${r.module_id}/${r.connector_id}`);
    expect(order).toEqual(['evse_z/1', 'evse_a/10', 'evse_b/1', 'evse_b/2', 'evse_a/2']);
  });

  it('returns copies, so callers cannot mutate stored state', async () => {
    const store = await openStore();
    const { record } = await store.upsert(input());
    record.priority = 9;
    const got = store.get('evse_1', 1);
    if (got) got.priority = 8;
    expect(store.get('evse_1', 1)?.priority).toBe(5);
  });

  it.each([
    ['priority 10', { priority: 10 }, 'priority'],
    ['priority -10', { priority: -10 }, 'priority'],
    ['priority 1.5', { priority: 1.5 }, 'priority'],
    ['connector 0', { connector_id: 0 }, 'connector_id'],
    ['empty module', { module_id: '' }, 'module_id'],
  ] as const)('rejects %s and writes nothing', async (_case, overrides, field) => {
    const store = await openStore();
    const events = collect(store);
    const attempt = store.upsert(input(overrides));
    await expect(attempt).rejects.toBeInstanceOf(InvalidPriorityError);
    await expect(attempt).rejects.toBeInstanceOf(RangeError);
    await expect(attempt).rejects.toMatchObject({ field });
    expect(store.size).toBe(0);
    expect(events).toEqual([]);
    expect(await readdir(dir)).toEqual([]);
  });

  it('serializes concurrent writes without losing any', async () => {
    const store = await openStore();
    const events = collect(store);
    const writes = Array.from({ length: 60 }, (_, i) =>
      store.upsert(input({ module_id: `evse_${i % 4}`, priority: (i % 19) - 9, set_by: `w${i}` })),
    );
    const results = await Promise.all(writes);
    for (let m = 0; m < 4; m++) {
      const versions = results.filter((r) => r.record.module_id === `evse_${m}`).map((r) => r.record.version);
      expect(versions).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    }
    expect(events.map((e) => (e.type === 'upsert' ? e.record.set_by : e.type))).toEqual(results.map((r) => r.record.set_by));
    const reopened = await openStore(dir);
    expect(reopened.list().map((r) => [r.module_id, r.set_by, r.version]).sort()).toEqual(
      [0, 1, 2, 3].map((m) => [`evse_${m}`, `w${56 + m}`, 15]),
    );
  });

  it('evaluates preconditions in call order, against the writes queued before them', async () => {
    const store = await openStore();
    await store.upsert(input());
    const a = store.upsert(input({ priority: 1 }), { ifMatchVersion: 1 });
    const b = store.upsert(input({ priority: 2 }), { ifMatchVersion: 1 });
    const c = store.upsert(input({ priority: 3 }), { ifMatchVersion: 2 });
    await expect(a).resolves.toMatchObject({ record: { version: 2 } });
    await expect(b).rejects.toMatchObject({ currentVersion: 2 });
    await expect(c).resolves.toMatchObject({ record: { version: 3, priority: 3 } });
  });
});

describe('PriorityStore change events', () => {
  it('emits each change only after it is on disk', async () => {
    const store = await openStore();
    const seen: { change: PriorityChange; disk: string }[] = [];
    store.changes$.subscribe((change) => {
      seen.push({ change, disk: readFileSyncSafe() });
    });
    await store.upsert(input());
    await store.upsert(input({ priority: 6 }));
    await store.clearSessionScoped('evse_1', 1);
    await store.delete('evse_1', 1);
    await store.upsert(input({ scope: 'session', connector_id: 2 }));
    await store.clearSessionScoped('evse_1', 2);
    await store.upsert(input());
    await store.clear();

    expect(seen.map((s) => s.change.type)).toEqual(['upsert', 'upsert', 'delete', 'upsert', 'delete', 'upsert', 'clear']);
    expect(seen[0]?.change).toMatchObject({ type: 'upsert', key: 'evse_1/1', created: true, previous: undefined });
    expect(seen[1]?.change).toMatchObject({ type: 'upsert', created: false, previous: { priority: 5 }, record: { priority: 6 } });
    expect(seen[2]?.change).toMatchObject({ type: 'delete', key: 'evse_1/1', reason: 'delete' });
    expect(seen[4]?.change).toMatchObject({ type: 'delete', key: 'evse_1/2', reason: 'session_finished' });
    expect(seen[6]?.change).toMatchObject({ type: 'clear', removed: [{ module_id: 'evse_1', connector_id: 1 }] });
    expect(seen[1]?.disk).toContain('"priority": 6');
    expect(seen[2]?.disk).not.toContain('"module_id"');
  });

  it('rolls back and emits nothing when the write fails, then recovers', async () => {
    const errors: string[] = [];
    const logger = { warn: () => undefined, error: (_o: object, msg: string) => void errors.push(msg) };
    const store = await openStore(dir, logger);
    const events = collect(store);
    // Occupy the exact temp path the next write will use, so its exclusive open fails.
    await mkdir(join(dir, `${STORE_FILE_NAME}.tmp-${process.pid}-1`));
    await expect(store.upsert(input())).rejects.toMatchObject({ code: 'EEXIST' });
    expect(store.size).toBe(0);
    expect(events).toEqual([]);
    expect(errors).toEqual(['priority store write failed']);

    const ok = await store.upsert(input({ priority: 4 }));
    expect(ok.record.version).toBe(1);
    expect(events).toHaveLength(1);
  });

  it('fails a whole batch on a write error, each op with its own reason', async () => {
    const store = await openStore();
    await mkdir(join(dir, `${STORE_FILE_NAME}.tmp-${process.pid}-2`));
    // The first write is in flight while the next two queue up, so they share the second (failing) write.
    const first = store.upsert(input());
    const ok = store.upsert(input({ connector_id: 2 }));
    const stale = store.upsert(input(), { ifMatchVersion: 7 });
    await expect(first).resolves.toMatchObject({ created: true });
    await expect(ok).rejects.toMatchObject({ code: 'EEXIST' });
    await expect(stale).rejects.toBeInstanceOf(PreconditionFailedError);
    expect(store.list().map((r) => r.connector_id)).toEqual([1]);
  });

  it('completes changes$ on close and refuses later writes', async () => {
    const store = await openStore();
    let completed = false;
    store.changes$.subscribe({ complete: () => (completed = true) });
    const pending = store.upsert(input());
    await store.close();
    expect(completed).toBe(true);
    await expect(pending).resolves.toMatchObject({ created: true });
    await expect(store.upsert(input())).rejects.toThrow(/closed/);
  });
});

describe('PriorityStore.open', () => {
  it('creates a missing directory and restores everything on reopen', async () => {
    const nested = join(dir, 'a', 'b');
    const store = await openStore(nested);
    await store.upsert(input({ scope: 'session', set_by: 'mqtt' }));
    await store.upsert(input({ module_id: 'evse_2', connector_id: 2, priority: -9 }));
    await store.upsert(input({ module_id: 'evse_2', connector_id: 2, priority: 9 }));
    const expected = store.list();
    await store.close();

    const reopened = await openStore(nested);
    expect(reopened.list()).toEqual(expected);
    expect(reopened.get('evse_2', 2)?.version).toBe(2);
    expect(reopened.size).toBe(2);
  });

  it('starts empty when there is no file yet, without creating one', async () => {
    const store = await openStore();
    expect(store.size).toBe(0);
    expect(store.file).toBe(storeFile());
    expect(await readdir(dir)).toEqual([]);
  });

  const valid = {
    format: 'evse-priority/priorities',
    format_version: 1,
    records: [
      { module_id: 'evse_1', connector_id: 1, priority: 2, scope: 'session', set_by: 'api', set_at: '2025-01-01T00:00:00.000Z', version: 1 },
    ],
    versions: { 'evse_1/1': 1 },
  };

  const aCount = { module_id: 'evse_1', session_uuid: 'u-1', interruptions: 1, provisional_yields: 0, energy_wh: 1200, at: '2025-01-01T00:00:00.000Z' };

  it.each([
    ['bad JSON', '{"format": "evse-priority/priorities", "records": [', /invalid JSON/],
    ['empty file', '', /invalid JSON/],
    ['an array', '[]', /top level is not an object/],
    ['foreign format', JSON.stringify({ ...valid, format: 'other' }), /"format" is "other"/],
    ['future version', JSON.stringify({ ...valid, format_version: 2 }), /unsupported "format_version" 2/],
    ['records missing', JSON.stringify({ ...valid, records: undefined }), /"records" is not an array/],
    [
      'priority out of range',
      JSON.stringify({ ...valid, records: [{ ...valid.records[0], priority: 12 }] }),
      /records\[0\]: priority must be an integer -9\.\.9, got 12/,
    ],
    ['bad scope', JSON.stringify({ ...valid, records: [{ ...valid.records[0], scope: 'x' }] }), /records\[0\]: scope/],
    [
      'duplicate record',
      JSON.stringify({ ...valid, records: [valid.records[0], valid.records[0]] }),
      /records\[1\]: duplicate record for evse_1\/1/,
    ],
    ['versions behind', JSON.stringify({ ...valid, versions: {} }), /versions\["evse_1\/1"\] is behind/],
    ['holds not a list', JSON.stringify({ ...valid, holds: {} }), /"holds" is not an array/],
    ['bad hold kind', JSON.stringify({ ...valid, holds: [{ module_id: 'evse_1', kind: 'stop', origin: 'scheduler', since: '2025-01-01T00:00:00Z' }] }), /holds\[0\]: kind must be one of pause, disable, limit/],
    ['interruptions not a list', JSON.stringify({ ...valid, interruptions: {} }), /"interruptions" is not an array/],
    [
      'negative interruption count',
      JSON.stringify({ ...valid, interruptions: [{ ...aCount, interruptions: -1 }] }),
      /interruptions\[0\]: interruptions must be an integer >= 0, got -1/,
    ],
    ['fractional yields', JSON.stringify({ ...valid, interruptions: [{ ...aCount, provisional_yields: 0.5 }] }), /interruptions\[0\]: provisional_yields must be an integer >= 0/],
    ['energy missing', JSON.stringify({ ...valid, interruptions: [{ ...aCount, energy_wh: undefined }] }), /interruptions\[0\]: energy_wh must be a number >= 0/],
    ['uuid not a string', JSON.stringify({ ...valid, interruptions: [{ ...aCount, session_uuid: 7 }] }), /interruptions\[0\]: session_uuid must be a string/],
    ['bad count time', JSON.stringify({ ...valid, interruptions: [{ ...aCount, at: 'yesterday' }] }), /interruptions\[0\]: at must be an ISO timestamp/],
    ['two counts for one EVSE', JSON.stringify({ ...valid, interruptions: [aCount, aCount] }), /interruptions\[1\]: duplicate count for evse_1/],
  ])('refuses a corrupt file (%s) and leaves it untouched', async (_case, content, problem) => {
    await writeFile(storeFile(), content);
    const attempt = PriorityStore.open(dir);
    await expect(attempt).rejects.toBeInstanceOf(StoreCorruptError);
    await expect(attempt).rejects.toMatchObject({ file: storeFile(), problem: expect.stringMatching(problem) });
    await expect(attempt).rejects.toThrow(storeFile());
    expect(await readFile(storeFile(), 'utf8')).toBe(content);
    expect(await readdir(dir)).toEqual([STORE_FILE_NAME]);
  });

  it('accepts the valid baseline file (written before holds existed: none)', async () => {
    await writeFile(storeFile(), JSON.stringify(valid));
    const store = await openStore();
    expect(store.list()).toEqual(valid.records);
    expect(store.holds()).toEqual([]);
    expect(store.interruptions()).toEqual([]);
  });

  it('keeps one interruption count per EVSE on disk: the latest put wins, a drop forgets it, priorities and holds untouched', async () => {
    const store = await openStore();
    await store.upsert(input());
    await store.putHold({ module_id: 'evse_1', kind: 'limit', origin: 'scheduler', since: '2025-01-01T00:00:01.000Z' });
    const changes: PriorityChange[] = [];
    store.changes$.subscribe((c) => changes.push(c));
    await store.putInterruptions(aCount);
    await store.putInterruptions({ ...aCount, interruptions: 2, energy_wh: 2500 });
    await store.putInterruptions({ module_id: 'evse_3', interruptions: 0, provisional_yields: 1, energy_wh: 40, at: '2025-01-01T00:00:02.000Z' });
    await store.putInterruptions({ ...aCount, module_id: 'evse_2' });
    expect(await store.dropInterruptions('evse_2')).toBe(true);
    expect(await store.dropInterruptions('evse_2')).toBe(false);
    expect(changes).toEqual([]);
    const again = await openStore();
    expect(again.interruptions()).toEqual([
      { ...aCount, interruptions: 2, energy_wh: 2500 },
      { module_id: 'evse_3', interruptions: 0, provisional_yields: 1, energy_wh: 40, at: '2025-01-01T00:00:02.000Z' },
    ]);
    expect(again.holds()).toEqual(store.holds());
    expect(again.list()).toEqual(store.list());
  });

  it('keeps holds on disk beside the priorities: acknowledged puts and drops survive a reopen, priorities untouched', async () => {
    const store = await openStore();
    await store.upsert(input());
    const changes: PriorityChange[] = [];
    store.changes$.subscribe((c) => changes.push(c));
    await store.putHold({ module_id: 'evse_2', kind: 'pause', origin: 'scheduler', session_uuid: 'u-2', since: '2025-01-01T00:00:00.000Z' });
    await store.putHold({ module_id: 'evse_1', kind: 'limit', origin: 'scheduler', since: '2025-01-01T00:00:01.000Z' });
    await store.putHold({ module_id: 'evse_3', kind: 'disable', origin: 'manual', since: '2025-01-01T00:00:02.000Z' });
    expect(await store.dropHold('evse_3')).toBe(true);
    expect(await store.dropHold('evse_3')).toBe(false);
    // Holds are not priority changes.
    expect(changes).toEqual([]);
    const again = await openStore();
    expect(again.holds()).toEqual([
      { module_id: 'evse_1', kind: 'limit', origin: 'scheduler', since: '2025-01-01T00:00:01.000Z' },
      { module_id: 'evse_2', kind: 'pause', origin: 'scheduler', session_uuid: 'u-2', since: '2025-01-01T00:00:00.000Z' },
    ]);
    expect(again.list()).toEqual(store.list());
  });

  it('ignores and removes a stale temp file from an interrupted write', async () => {
    const warnings: string[] = [];
    const logger = { warn: (_o: object, msg: string) => void warnings.push(msg), error: () => undefined };
    const first = await openStore();
    await first.upsert(input({ priority: 1 }));
    await first.close();
    const stale = `${STORE_FILE_NAME}.tmp-424242-7`;
    await writeFile(join(dir, stale), '{"format": "evse-priority/priorities", "records": [{"half');

    const store = await openStore(dir, logger);
    expect(store.get('evse_1', 1)?.priority).toBe(1);
    expect(await readdir(dir)).toEqual([STORE_FILE_NAME]);
    expect(warnings).toHaveLength(1);
  });

  it('takes a pino logger', async () => {
    const logger: StoreLogger = pino({ enabled: false });
    await expect(openStore(dir, logger)).resolves.toBeInstanceOf(PriorityStore);
  });
});

function readFileSyncSafe(): string {
  try {
    return readFileSync(storeFile(), 'utf8');
  } catch {
    return '';
  }
}
