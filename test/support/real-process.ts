// The module as an operator runs it (`evse-priority run --config <file>`), for tests that must prove
// the process itself survives or recovers, not just an in-process stack.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Writes a minimal site configuration for a real process: one broker, HTTP off, store under `dir`; `extra` lines (YAML sections) are appended. */
export function writeSiteConfig(dir: string, options: { instance: string; brokerUrl: string; evses: string; logLevel?: string; extra?: string[] }): string {
  const file = join(dir, 'site.yaml');
  writeFileSync(
    file,
    [
      `instance: ${options.instance}`,
      `mqtt: { url: "${options.brokerUrl}" }`,
      `evses: ${options.evses}`,
      `store: { dir: "${join(dir, 'data')}" }`,
      'http: { enabled: false }',
      `log: { level: ${options.logLevel ?? 'warn'}, pretty: false }`,
      ...(options.extra ?? []),
    ].join('\n'),
  );
  return file;
}

/** Starts the real process; with `log`, its stdout (JSON log lines) is collected there; `env` replaces the environment (secrets, as an operator passes them). */
export function runModule(configFile: string, log?: string[], env?: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(process.execPath, ['bin/evse-priority.js', 'run', '--config', configFile], { stdio: ['ignore', log ? 'pipe' : 'ignore', 'inherit'], env });
  if (log) child.stdout?.setEncoding('utf8').on('data', (chunk: string) => log.push(chunk));
  return child;
}

export interface CliRun {
  child: ChildProcess;
  /** Everything the process wrote so far, stdout and stderr interleaved as they arrived. */
  output: () => string;
  /** Resolves with the exit code once the process has ended. */
  exited: Promise<number | null>;
}

/** Any `evse-priority <args>` command as an operator types it, with both output streams collected. */
export function runCli(args: readonly string[], env?: NodeJS.ProcessEnv): CliRun {
  const child = spawn(process.execPath, ['bin/evse-priority.js', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  const chunks: string[] = [];
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => chunks.push(chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => chunks.push(chunk));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return { child, output: () => chunks.join(''), exited };
}
