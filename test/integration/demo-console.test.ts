// `npm start` as a newcomer meets it: the dashboard link with its token first, then a quiet console;
// the whole log goes to --log-file. The demo runs in a child process from a scratch directory.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { sleep, waitFor } from '../support/wait.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

describe('npm start (the demo)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'evse-priority-demo-'));
  let child: ChildProcess | undefined;
  afterAll(() => {
    child?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints the dashboard link with its token first, keeps the console quiet and the full log in the file', async () => {
    const logFile = join(dir, 'demo.log');
    child = spawn(process.execPath, [join(ROOT, 'bin', 'evse-priority.js'), 'demo', '--http-port', '0', '--log-file', logFile], {
      cwd: dir,
      env: Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('EVSE_PRIORITY_'))),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    await waitFor(() => out.includes('Ctrl-C stops everything.'), { timeoutMs: 90_000, message: () => `no banner; output so far:\n${out}` });

    // In a checkout whose dist/ is older than src/ the launcher says it runs the source: its note, not the demo's console.
    const lines = out.split('\n').filter((l) => l.trim() !== '' && !/^evse-priority: .* is older than src\/: running the source/.test(l));
    expect(lines[0]).toMatch(/^evse-priority demo: three simulated EVSEs/);
    const dashboard = lines.find((l) => l.includes('Dashboard:'));
    expect(lines.indexOf(dashboard ?? '')).toBeLessThan(lines.findIndex((l) => l.includes('HTTP API:')));
    const link = /Dashboard:\s+(http:\/\/\S+\/\?token=(\S+))/.exec(dashboard ?? '');
    expect(link, out).not.toBeNull();
    const [, url, token] = link as RegExpExecArray;

    // The link serves the page; its token opens the API.
    const page = await fetch(url!);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('/assets/dashboard.js');
    const evses = await fetch(new URL('/v1/evses', url).href, { headers: { authorization: `Bearer ${token}` } });
    expect(evses.status).toBe(200);

    // The scenario's first cars arrive and are decided on meanwhile: in the file, not on the console.
    await waitFor(() => readFileSync(logFile, 'utf8').includes('"msg":"decision"'), { timeoutMs: 30_000, message: 'no decision in the log file' });
    await sleep(500);
    const afterBanner = out.slice(out.indexOf('Ctrl-C stops everything.') + 'Ctrl-C stops everything.'.length).trim();
    expect(afterBanner).toBe('');
    expect(out).not.toMatch(/"level":|INFO/);

    const exited = new Promise<number | null>((resolve) => child?.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    child = undefined;
  }, 180_000);
});
