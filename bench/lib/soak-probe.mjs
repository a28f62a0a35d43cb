// Preloaded into the module process by bench:soak (`node --import <this> bin/evse-priority.js run ...`):
// event-loop delay (perf_hooks monitorEventLoopDelay) and RSS, measured inside the process under test
// and reported to the bench over IPC. Plain JavaScript so it runs in front of the built bundle too.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import process from 'node:process';
import { setInterval } from 'node:timers';

const RESOLUTION_MS = 10;
// The histogram records whole timer intervals; the lag is what exceeds the interval asked for.
const ms = (ns) => Math.max(0, ns / 1e6 - RESOLUTION_MS);
const figures = (h) => ({ p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max), samples: h.count });

// One histogram per second for the timeline, one per phase that the bench closes with 'phase'.
const second = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
const phase = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
second.enable();
phase.enable();

if (process.send) {
  setInterval(() => {
    // RSS and what it is made of: V8's heap (total and used), external memory and the part of it held
    // by ArrayBuffers (socket and file buffers). A growing RSS with a flat heap floor is not a JS leak.
    const m = process.memoryUsage();
    const mb = (bytes) => bytes / 1048576;
    process.send({
      type: 'sample',
      at: Date.now(),
      rssMb: mb(m.rss),
      heapTotalMb: mb(m.heapTotal),
      heapUsedMb: mb(m.heapUsed),
      externalMb: mb(m.external),
      arrayBuffersMb: mb(m.arrayBuffers),
      lag: figures(second),
    });
    second.reset();
  }, 1000).unref();
  process.on('message', (msg) => {
    if (msg?.type !== 'phase') return;
    process.send({ type: 'phase', name: msg.name, lag: figures(phase) });
    phase.reset();
  });
  // The bench's channel must not keep the module alive once it has stopped by itself.
  process.channel?.unref();
}

// SOAK_ALLOC_PROF=<file>: a sampling allocation profile of the load phase, collected objects included
// (what the collector has to clean up, by allocating function), written when the bench closes that phase.
if (process.env.SOAK_ALLOC_PROF && process.send) {
  const { Session } = await import('node:inspector/promises');
  const { writeFileSync } = await import('node:fs');
  const session = new Session();
  session.connect();
  let sampling = false;
  process.on('message', async (msg) => {
    if (msg?.type !== 'phase') return;
    if (msg.name === 'quiet') {
      await session.post('HeapProfiler.startSampling', { samplingInterval: 32768, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
      sampling = true;
    } else if (msg.name === 'load' && sampling) {
      const { profile } = await session.post('HeapProfiler.stopSampling');
      writeFileSync(process.env.SOAK_ALLOC_PROF, JSON.stringify(profile));
    }
  });
}

// SOAK_HEAP_SNAP=<dir> (with SOAK_HEAP_SNAP_AT=<seconds of load, comma-separated>, default 40,150): heap
// snapshots of the module during the load phase, to diff what survives collection between two points
// (issue #13). Writing one blocks the module for a second or two, so the run's lag figures are not clean.
if (process.env.SOAK_HEAP_SNAP && process.send) {
  const { writeHeapSnapshot } = await import('node:v8');
  const { join } = await import('node:path');
  const { setTimeout } = await import('node:timers');
  const at = (process.env.SOAK_HEAP_SNAP_AT ?? '40,150').split(',').map(Number);
  process.on('message', (msg) => {
    if (msg?.type !== 'phase' || msg.name !== 'quiet') return;
    for (const s of at) {
      setTimeout(() => {
        const file = writeHeapSnapshot(join(process.env.SOAK_HEAP_SNAP, `load-${s}s.heapsnapshot`));
        process.stderr.write(`[probe] heap snapshot ${file}\n`);
      }, s * 1000).unref();
    }
  });
}
