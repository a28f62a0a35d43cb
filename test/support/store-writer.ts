// Child process for test/integration/priority-store-crash.test.ts: hammers a PriorityStore with upserts
// until it is killed, printing `ACK <key> <version> <priority>` only after each write was acknowledged.
// Several writers run concurrently so kills also land inside group-committed batches.
import { PriorityStore } from '../../src/priorities/store.js';

const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: store-writer.ts <dir> [writers]\n');
  process.exit(2);
}
const writers = Number(process.argv[3] ?? '4');

const store = await PriorityStore.open(dir);
process.stdout.write('READY\n');

async function writer(w: number): Promise<never> {
  for (let i = 0; ; i++) {
    const module_id = `evse_${(w + i) % 3}`;
    const connector_id = 1 + (i % 2);
    const priority = ((w * 7 + i) % 19) - 9;
    const { record } = await store.upsert({
      module_id,
      connector_id,
      priority,
      scope: i % 3 === 0 ? 'session' : 'persistent',
      set_by: `writer-${w}`,
    });
    // Linux pipes are written synchronously, so this line is in the pipe before the next write starts.
    process.stdout.write(`ACK ${module_id}/${connector_id} ${record.version} ${record.priority}\n`);
  }
}

await Promise.all(Array.from({ length: writers }, (_, w) => writer(w)));
