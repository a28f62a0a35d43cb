import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PriorityStore, STORE_FILE_NAME } from '../../src/priorities/store.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const writerScript = join(root, 'test/support/store-writer.ts');

interface Ack {
  version: number;
  priority: number;
}

interface RunResult {
  /** Highest acknowledged version per key, with the priority written at that version. */
  acked: Map<string, Ack>;
  total: number;
  signal: NodeJS.Signals | null;
}

/** Runs the writer until `killAfter` acks have arrived (plus a random few ms), then SIGKILLs it. */
function runAndKill(dir: string, killAfter: number): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', writerScript, dir], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const acked = new Map<string, Ack>();
    let total = 0;
    let killScheduled = false;
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      const m = /^ACK (\S+) (\d+) (-?\d+)$/.exec(line);
      if (!m) return;
      const [, key = '', version, priority] = m;
      total++;
      const ack = { version: Number(version), priority: Number(priority) };
      if ((acked.get(key)?.version ?? 0) < ack.version) acked.set(key, ack);
      if (total >= killAfter && !killScheduled) {
        killScheduled = true;
        // Jitter so the kill lands at arbitrary points of the write path, not right after an ack.
        setTimeout(() => child.kill('SIGKILL'), Math.floor(Math.random() * 5));
      }
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`writer produced only ${total} acks; stderr: ${stderr}`));
    }, 20_000);
    // 'close' fires after stdout is drained, so every ack the child managed to print has been counted.
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL') {
        reject(new Error(`writer exited on its own (code ${code}, signal ${signal}); stderr: ${stderr}`));
        return;
      }
      resolvePromise({ acked, total, signal });
    });
    child.on('error', reject);
  });
}

describe('PriorityStore crash safety (SIGKILL mid-stream)', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'prio-crash-'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  // Same directory across rounds: each round starts from what the previous crash left behind.
  it.each([
    [1, 25],
    [2, 120],
    [3, 7],
    [4, 300],
    [5, 60],
  ])('round %i: every acknowledged write survives a kill after %i acks', async (_round, killAfter) => {
    const before = await PriorityStore.open(dir);
    const baseline = new Map(before.list().map((r) => [`${r.module_id}/${r.connector_id}`, r.version]));
    await before.close();

    const run = await runAndKill(dir, killAfter);
    expect(run.signal).toBe('SIGKILL');
    expect(run.total).toBeGreaterThanOrEqual(killAfter);

    const raw = await readFile(join(dir, STORE_FILE_NAME), 'utf8');
    expect(() => JSON.parse(raw) as unknown).not.toThrow();

    const store = await PriorityStore.open(dir);
    try {
      for (const [key, ack] of run.acked) {
        const [module_id = '', connector] = key.split('/');
        const record = store.get(module_id, Number(connector));
        expect(record, `acked ${key} v${ack.version} missing`).toBeDefined();
        expect(record?.version, key).toBeGreaterThanOrEqual(ack.version);
        // At exactly the acked version the content must be what was acked; higher means a later write landed.
        if (record?.version === ack.version) expect(record.priority, key).toBe(ack.priority);
      }
      for (const [key, version] of baseline) {
        const [module_id = '', connector] = key.split('/');
        expect(store.get(module_id, Number(connector))?.version ?? 0, key).toBeGreaterThanOrEqual(version);
      }
      expect((await readdir(dir)).filter((n) => n !== STORE_FILE_NAME)).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
