// The process environment the systemd unit gives the module (the Docker image sets the same, held equal
// by deploy-unit.test.ts), so benches run it as a charger does: Node's heap options and glibc's arenas
// change RSS and pauses by tens of MB and ms.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const UNIT = fileURLToPath(new URL('../../deploy/evse-priority.service', import.meta.url));

/** Environment= assignments of the unit (systemd's quoting: a quoted assignment may hold spaces). */
export function unitEnvironment(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(UNIT, 'utf8').split('\n')) {
    const m = /^Environment=(.*)$/.exec(line.trim());
    if (m === null) continue;
    for (const word of m[1]!.match(/"[^"]*"|\S+/g) ?? []) {
      const assignment = word.startsWith('"') ? word.slice(1, -1) : word;
      const eq = assignment.indexOf('=');
      if (eq > 0) env[assignment.slice(0, eq)] = assignment.slice(eq + 1);
    }
  }
  return env;
}

/** What of it concerns memory and pauses: NODE_OPTIONS and MALLOC_ARENA_MAX. */
export function deployedRuntimeEnv(): { NODE_OPTIONS: string; MALLOC_ARENA_MAX?: string } {
  const env = unitEnvironment();
  return { NODE_OPTIONS: env.NODE_OPTIONS ?? '', ...(env.MALLOC_ARENA_MAX !== undefined ? { MALLOC_ARENA_MAX: env.MALLOC_ARENA_MAX } : {}) };
}
