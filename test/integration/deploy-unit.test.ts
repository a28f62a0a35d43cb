// deploy/evse-priority.service as systemd reads it. Running it needs a booted systemd (not here: the unit's
// ExecStart command itself is run from an installed package by artifact.test.ts).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { unitEnvironment } from '../support/deployed-env.js';

const UNIT = fileURLToPath(new URL('../../deploy/evse-priority.service', import.meta.url));
const hasAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;

function directives(text: string): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (m?.[1] === undefined || m[2] === undefined) continue;
    map.set(m[1], [...(map.get(m[1]) ?? []), m[2]]);
  }
  return map;
}

describe('deploy/evse-priority.service', () => {
  const unit = directives(readFileSync(UNIT, 'utf8'));
  const one = (key: string) => unit.get(key)?.at(-1);

  it.skipIf(!hasAnalyze)('passes systemd-analyze verify without a warning (skipped where systemd-analyze is not installed)', () => {
    // A bad value is only a warning to systemd (exit 0), so the output must be empty too.
    const result = spawnSync('systemd-analyze', ['verify', UNIT], { encoding: 'utf8' });
    expect(result.stderr + result.stdout).toBe('');
    expect(result.status).toBe(0);
  });

  it('runs the bundle with a config, restarts always but not on a config error, after the broker', () => {
    expect(one('ExecStart')).toMatch(/ \/opt\/evse-priority\/dist\/evse-priority\.mjs run --config \S+\.yaml$/);
    expect(one('Restart')).toBe('always');
    expect(one('RestartPreventExitStatus')?.split(' ')).toContain('2');
    expect(one('After')).toContain('mosquitto.service');
    expect(Number(one('StartLimitBurst'))).toBeGreaterThan(0);
  });

  it('dedicated user, read-only system, state directory holding the store', () => {
    expect(one('DynamicUser')).toBe('yes');
    expect(one('ProtectSystem')).toBe('strict');
    expect(one('StateDirectory')).toBe('evse-priority');
    expect(unit.get('Environment')).toContain('EVSE_PRIORITY_STORE_DIR=/var/lib/evse-priority/priorities');
    expect(one('WorkingDirectory')).toBe('/var/lib/evse-priority');
  });

  it('runs Node with the options bench:startup and bench:soak measure, the same as the Docker image', () => {
    const env = unitEnvironment();
    expect(env.NODE_OPTIONS?.split(' ')).toEqual(['--max-semi-space-size=1', '--max-old-space-size=160']);
    expect(env.MALLOC_ARENA_MAX).toBe('2');
    // The heap limit plus what lives outside the heap must fit the unit's memory ceiling.
    expect(160 + 70).toBeLessThan(Number(one('MemoryMax')?.replace(/M$/, '')));
    const dockerfile = readFileSync(fileURLToPath(new URL('../../docker/Dockerfile', import.meta.url)), 'utf8').split('\n');
    expect(dockerfile).toContain(`ENV NODE_OPTIONS="${env.NODE_OPTIONS}"`);
    expect(dockerfile).toContain(`ENV MALLOC_ARENA_MAX=${env.MALLOC_ARENA_MAX}`);
  });
});
