import { appendFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Outbox, directoryBytes, type NewEntry, type OutboxEntry } from '../../../src/forwarding/outbox.js';

const logger = pino({ level: 'silent' });
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'outbox-'));
  dirs.push(dir);
  return dir;
}

const te = (station: string, n: number): NewEntry => ({ station, kind: 'TransactionEvent', createdAt: 1000 + n, body: JSON.stringify({ seqNo: n, station }) });
const mv = (station: string, n: number, pad = 0): NewEntry => ({
  station,
  kind: 'MeterValues',
  createdAt: 1000 + n,
  body: JSON.stringify({ evseId: 1, n, pad: 'x'.repeat(pad) }),
});

function drain(box: Outbox, station: string): OutboxEntry[] {
  const out: OutboxEntry[] = [];
  for (let head = box.head(station); head; head = box.head(station)) {
    out.push(head);
    box.complete(head);
  }
  return out;
}

describe('durable outbox', () => {
  it('gives back after a reopen every entry not completed, in order per station, with the state written alongside', async () => {
    const dir = tempDir();
    const { outbox } = await Outbox.open({ dir, maxBytes: 1 << 20, logger });
    const written = await outbox.append([te('A', 0), mv('A', 1), te('B', 0)], { evse_1: 'tx-1' });
    await outbox.append([te('A', 2), te('B', 1)], { evse_1: 'tx-2' });
    const first = outbox.head('A');
    expect(first?.seq).toBe(written[0]?.seq);
    if (first) outbox.complete(first);
    // No close: the process dies here (the page cache survives a kill -9, and the appends were fsynced).

    const again = await Outbox.open({ dir, maxBytes: 1 << 20, logger });
    expect(again.state).toEqual({ evse_1: 'tx-2' });
    expect(drain(again.outbox, 'A').map((e) => JSON.parse(e.body))).toEqual([{ evseId: 1, n: 1, pad: '' }, { seqNo: 2, station: 'A' }]);
    expect(drain(again.outbox, 'B').map((e) => JSON.parse(e.body))).toEqual([{ seqNo: 0, station: 'B' }, { seqNo: 1, station: 'B' }]);
    expect(again.outbox.depth).toBe(0);
    await again.outbox.close();

    const empty = await Outbox.open({ dir, maxBytes: 1 << 20, logger });
    expect(empty.outbox.depth).toBe(0);
    expect(empty.state).toEqual({ evse_1: 'tx-2' });
    await empty.outbox.close();
    await outbox.close();
  });

  it('ignores a torn last line (a power cut mid-write) and keeps everything before it', async () => {
    const dir = tempDir();
    const { outbox } = await Outbox.open({ dir, maxBytes: 1 << 20, logger });
    await outbox.append([te('A', 0), te('A', 1)], undefined);
    await outbox.close();
    const segment = readdirSync(dir).filter((f) => f.startsWith('seg-')).sort().at(-1) ?? '';
    appendFileSync(join(dir, segment), '0badc0de {"e":{"seq":99,"st":"A","k":"Transac');
    const again = await Outbox.open({ dir, maxBytes: 1 << 20, logger });
    expect(again.corruptLines).toBe(1);
    expect(drain(again.outbox, 'A').map((e) => (JSON.parse(e.body) as { seqNo: number }).seqNo)).toEqual([0, 1]);
    await again.outbox.close();
  });

  it('deletes segments once everything in them is done, so a healthy feed uses little disk', async () => {
    const dir = tempDir();
    const { outbox } = await Outbox.open({ dir, maxBytes: 1 << 20, logger, segmentBytes: 4096 });
    for (let i = 0; i < 200; i++) {
      await outbox.append([mv('A', i, 100)], { i });
      drain(outbox, 'A');
    }
    await outbox.close();
    expect(readdirSync(dir).filter((f) => f.startsWith('seg-')).length).toBeLessThanOrEqual(2);
    expect(await directoryBytes(dir)).toBeLessThan(8192);
  });

  it('stays within max bytes by dropping the oldest MeterValues, never a TransactionEvent, and counts the drops', async () => {
    const dir = tempDir();
    const dropped: OutboxEntry[] = [];
    const maxBytes = 64 * 1024;
    const { outbox } = await Outbox.open({ dir, maxBytes, logger, onDrop: (e) => dropped.push(e) });
    const events: number[] = [];
    for (let i = 0; i < 400; i++) {
      // A long outage: nothing is delivered; a TransactionEvent now and then between meter values.
      const batch = i % 20 === 0 ? [te('A', i)] : [mv('A', i, 400)];
      if (i % 20 === 0) events.push(i);
      await outbox.append(batch, { i });
    }
    expect(dropped.length).toBeGreaterThan(0);
    expect(dropped.every((e) => e.kind === 'MeterValues')).toBe(true);
    // The oldest went first: every dropped meter value is older than every kept one.
    const kept = [...outbox.stations()].flatMap((s) => (outbox.head(s) ? [s] : []));
    expect(kept).toEqual(['A']);
    await outbox.close();
    expect(await directoryBytes(dir)).toBeLessThanOrEqual(maxBytes * 1.25);

    const again = await Outbox.open({ dir, maxBytes, logger });
    const left = drain(again.outbox, 'A');
    const leftTe = left.filter((e) => e.kind === 'TransactionEvent').map((e) => (JSON.parse(e.body) as { seqNo: number }).seqNo);
    expect(leftTe).toEqual(events);
    const leftMv = left.filter((e) => e.kind === 'MeterValues').map((e) => e.createdAt);
    const newestDropped = Math.max(...dropped.map((e) => e.createdAt));
    expect(Math.min(...leftMv)).toBeGreaterThan(newestDropped);
    expect(left.map((e) => e.seq)).toEqual([...left.map((e) => e.seq)].sort((a, b) => a - b));
    await again.outbox.close();
  });
});
