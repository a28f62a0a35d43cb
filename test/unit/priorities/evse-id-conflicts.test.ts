import { VirtualTimeScheduler } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { EvseIdConflictLog } from '../../../src/priorities/evse-id-conflicts.js';
import { ConnectorDirectory } from '../../../src/priorities/resolve.js';
import { captureLog } from '../../support/log-capture.js';

const MESSAGE = 'EVSE-ID claimed by more than one EVSE: requests by this evse_id are refused until only one publishes it';

/** A directory of `n` EVSEs whose conflicts go to an EvseIdConflictLog on a virtual clock. */
function setUp(n: number) {
  const log = captureLog('info');
  const clock = new VirtualTimeScheduler(undefined, 0);
  const conflicts = new EvseIdConflictLog(log.logger, { timer: clock });
  const ids = Array.from({ length: n }, (_, i) => `evse_${i + 1}`);
  const directory = new ConnectorDirectory(
    ids.map((module_id) => ({ module_id, connectors: [1] })),
    conflicts.claimed,
  );
  const lines = () => log.lines.map((l) => JSON.parse(l) as { level: number; msg: string; [k: string]: unknown }).filter((l) => l.msg.startsWith('EVSE-ID claimed'));
  const advanceTo = (ms: number) => {
    clock.schedule(() => undefined, ms - clock.frame);
    clock.maxFrames = ms;
    clock.flush();
  };
  return { conflicts, directory, ids, lines, advanceTo };
}

describe('EvseIdConflictLog', () => {
  it('logs a single conflict at once, whole', () => {
    const { directory, lines } = setUp(2);
    directory.learnEvseId('evse_1', 'DEPNXE1*1');
    directory.learnEvseId('evse_2', 'DEPNXE1*1');
    expect(lines()).toEqual([expect.objectContaining({ level: 40, msg: MESSAGE, evseId: 'DEPNXE1*1', moduleIds: ['evse_1', 'evse_2'] })]);
  });

  it('counts further claims of one EVSE-ID into one line per interval; another EVSE-ID is news at once', () => {
    const { conflicts, directory, ids, lines, advanceTo } = setUp(100);
    // A peer publishing one EVSE-ID on every EVSE, and then again after each had another one.
    for (const id of ids) directory.learnEvseId(id, 'X');
    for (const id of ids) directory.learnEvseId(id, 'Y');
    for (const id of ids) directory.learnEvseId(id, 'X');
    // Each round, every EVSE but the first claims an EVSE-ID another holds: X 99 + 99 times, Y 99 times.
    expect(lines().map((l) => [l.msg, l.evseId, l.moduleIds])).toEqual([
      [MESSAGE, 'X', ['evse_1', 'evse_2']],
      [MESSAGE, 'Y', ['evse_1', 'evse_2']],
    ]);

    advanceTo(60_000);
    expect(lines().slice(2)).toEqual([
      expect.objectContaining({ msg: `${MESSAGE} (repeated)`, evseId: 'X', repeats: 99 + 99 - 1, interval_s: 60, also_on: ['evse_3', 'evse_4', 'evse_5', 'evse_6', 'evse_7'] }),
      expect.objectContaining({ msg: `${MESSAGE} (repeated)`, evseId: 'Y', repeats: 98, interval_s: 60 }),
    ]);
    // The directory still refuses the EVSE-ID, whatever the log says.
    expect(directory.resolve({ by: 'evse_id', evse_id: 'X' })).toMatchObject({ ok: false, code: 'ambiguous_evse_id' });

    // A new interval: the next claim is logged whole again; at shutdown the interval's counts are logged.
    directory.learnEvseId('evse_1', 'Y');
    directory.learnEvseId('evse_2', 'Y');
    expect(lines().slice(4)).toEqual([expect.objectContaining({ msg: MESSAGE, evseId: 'Y', moduleIds: ['evse_1', 'evse_2'] })]);
    directory.learnEvseId('evse_3', 'Y');
    conflicts.flush();
    expect(lines().slice(5)).toEqual([expect.objectContaining({ msg: `${MESSAGE} (repeated)`, evseId: 'Y', repeats: 1, also_on: ['evse_3'] })]);
  });
});
