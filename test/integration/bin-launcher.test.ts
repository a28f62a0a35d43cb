// bin/evse-priority.js picks what to run: the bundle on a charger (no src/), the source in a checkout
// without a build or whose source changed after the build, so tests and benches never measure stale code.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('bin/evse-priority.js chooses between the bundle and the source', () => {
  let dir: string;
  const run = () => spawnSync(process.execPath, [join(dir, 'bin', 'evse-priority.js')], { encoding: 'utf8', timeout: 60_000 });
  const age = (path: string, secondsAgo: number) => {
    const t = new Date(Date.now() - secondsAgo * 1000);
    utimesSync(path, t, t);
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'evse-priority-bin-'));
    cpSync(join(ROOT, 'bin'), join(dir, 'bin'), { recursive: true });
    cpSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
    mkdirSync(join(dir, 'dist'));
    writeFileSync(join(dir, 'dist', 'evse-priority.mjs'), "process.stdout.write('bundle\\n');\n");
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('runs the bundle where there is no source (the charger)', () => {
    const r = run();
    expect(r.stdout).toBe('bundle\n');
    expect(r.stderr).toBe('');
  });

  it('runs the bundle when it is newer than every source file', () => {
    mkdirSync(join(dir, 'src', 'site'), { recursive: true });
    writeFileSync(join(dir, 'src', 'cli.ts'), "process.stdout.write('source\\n');\n");
    writeFileSync(join(dir, 'src', 'site', 'x.ts'), 'export {};\n');
    age(join(dir, 'src', 'cli.ts'), 60);
    age(join(dir, 'src', 'site', 'x.ts'), 60);
    const r = run();
    expect(r.stdout).toBe('bundle\n');
    expect(r.stderr).toBe('');
  });

  it('runs the source, and says why, when a nested source file changed after the build', () => {
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    mkdirSync(join(dir, 'src', 'site'), { recursive: true });
    writeFileSync(join(dir, 'src', 'cli.ts'), "const from: string = 'source';\nprocess.stdout.write(`${from}\\n`);\n");
    writeFileSync(join(dir, 'src', 'site', 'x.ts'), 'export {};\n');
    age(join(dir, 'src', 'cli.ts'), 120);
    age(join(dir, 'dist', 'evse-priority.mjs'), 60);
    const r = run();
    expect(r.stdout).toBe('source\n');
    expect(r.stderr).toContain('is older than src/: running the source');
  });

  it('refuses clearly when the bundle is stale and no TypeScript runner is installed', () => {
    mkdirSync(join(dir, 'src'));
    writeFileSync(join(dir, 'src', 'cli.ts'), "process.stdout.write('source\\n');\n");
    age(join(dir, 'dist', 'evse-priority.mjs'), 60);
    const r = run();
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('is older than src/ and tsx is not installed');
  });
});
