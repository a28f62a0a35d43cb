// The deployable artifact as a charger gets it: `npm run build`'s bundle, packed with `npm pack`, installed with
// --omit=dev into an empty directory (no registry needed: the package has no dependencies), then run.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildArtifact } from '../../scripts/build.js';
import { startBroker, type TestBroker } from '../support/broker.js';
import { rawClient } from '../support/everest-stack.js';
import { collect, waitFor, type Collector } from '../support/wait.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SIZE_TARGET_MB = 15;

function duMb(path: string): number {
  return Number(execFileSync('du', ['-sk', path], { encoding: 'utf8' }).split('\t')[0]) / 1024;
}

describe('the npm package: bundle only, installs and runs without dev dependencies', () => {
  let work: string;
  let installed: string;
  let broker: TestBroker;
  let watcher: MqttClient;
  let seen: Collector;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'evse-priority-artifact-'));
    // A staging copy of what `npm pack` reads, so the test never rewrites the checkout's dist/.
    const stage = join(work, 'stage');
    mkdirSync(stage);
    for (const entry of ['package.json', 'README.md', 'bin', 'config']) cpSync(join(ROOT, entry), join(stage, entry), { recursive: true });
    await buildArtifact({ outdir: join(stage, 'dist'), quiet: true });
    const tarball = execFileSync('npm', ['pack', '--silent', '--pack-destination', work], { cwd: stage, encoding: 'utf8' }).trim().split('\n').pop() ?? '';
    const app = join(work, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), '{"name":"charger","private":true}\n');
    execFileSync('npm', ['install', '--omit=dev', '--offline', '--no-audit', '--no-fund', '--silent', join(work, tarball)], { cwd: app, stdio: 'ignore' });
    installed = join(app, 'node_modules');
    broker = await startBroker({ name: 'artifact' });
    watcher = await rawClient(broker.url);
    seen = await collect(watcher, 'everest_api/1/evse_manager_consumer/+/m2e/communication_check');
  }, 120_000);

  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    await seen?.stop();
    await watcher?.endAsync();
    await broker?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('installs nothing but itself: no dev tool, no TypeScript runner, within the size target', () => {
    expect(readdirSync(installed).filter((name) => !name.startsWith('.'))).toEqual(['evse-priority']);
    expect(existsSync(join(installed, 'tsx'))).toBe(false);
    expect(existsSync(join(installed, 'evse-priority', 'dist', 'evse-priority.mjs'))).toBe(true);
    // The dashboard ships built: no CDN and no build step on the charger.
    for (const file of ['index.html', 'dashboard.js', 'dashboard.css']) expect(existsSync(join(installed, 'evse-priority', 'dist', 'web', file))).toBe(true);
    expect(existsSync(join(installed, 'evse-priority', 'src'))).toBe(false);
    // The contract is generated validator code: neither the AsyncAPI parser nor the documents ship.
    expect(readFileSync(join(installed, 'evse-priority', 'dist', 'evse-priority.mjs'), 'utf8')).not.toContain('@asyncapi/parser');
    expect(existsSync(join(installed, 'evse-priority', 'dist', 'asyncapi'))).toBe(false);
    expect(duMb(installed)).toBeLessThanOrEqual(SIZE_TARGET_MB);
  });

  it('check-config through the installed bin accepts a config and names the key of a bad one', () => {
    const bin = join(installed, '.bin', 'evse-priority');
    const good = join(work, 'good.yaml');
    writeFileSync(good, 'evses: [{ module_id: evse_1 }]\n');
    expect(execFileSync(bin, ['check-config', good], { encoding: 'utf8' })).toContain('OK (1 EVSE(s)');
    const bad = join(work, 'bad.yaml');
    writeFileSync(bad, 'site: { max_power_w: -1 }\n');
    let stderr = '';
    try {
      execFileSync(bin, ['check-config', bad], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      stderr = String((err as { stderr?: unknown }).stderr);
      expect((err as { status?: unknown }).status).toBe(2);
    }
    expect(stderr).toContain('max_power_w');
  });

  it('`node dist/evse-priority.mjs run` from the install talks to EVerest: communication check on the wire', async () => {
    const config = join(work, 'site.yaml');
    writeFileSync(config, [`mqtt: { url: "${broker.url}" }`, 'evses: [{ module_id: artifact_1 }]', `store: { dir: "${join(work, 'data')}" }`, 'http: { enabled: false }', 'log: { level: warn }'].join('\n'));
    const child = spawn(process.execPath, [join(installed, 'evse-priority', 'dist', 'evse-priority.mjs'), 'run', '--config', config], { cwd: work, stdio: ['ignore', 'ignore', 'inherit'] });
    children.push(child);
    const check = await waitFor(() => seen.messages.find((m) => m.topic.includes('/artifact_1/')), { timeoutMs: 20_000, message: 'communication check from the installed bundle' });
    expect(check.payload).toBe('true');
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
