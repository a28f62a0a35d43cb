// Child processes of the core benchmark and the messages they exchange with the parent over IPC.
// Load generators and memory probes run in their own processes so that their CPU and heap never
// mix with what is being measured.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export type ParentCommand = { type: 'burst'; count: number } | { type: 'stop' };

export interface MemoryFigures {
  mode: 'node' | 'empty' | 'baseline' | 'module';
  evses: number;
  rssMb: number;
  heapUsedMb: number;
  heapTotalMb: number;
  externalMb: number;
  /** Peak RSS of the whole child life (start-up included), from getrusage. */
  maxRssMb: number;
  /** communication_check messages published while settling: proof that the module was live. */
  communicationChecks: number;
  gcExposed: boolean;
}

export type ChildReport =
  | { type: 'ready' }
  | { type: 'sent'; count: number; writeMs: number }
  | { type: 'memory'; figures: MemoryFigures }
  | { type: 'error'; message: string };

const REPORT_TYPES: ReadonlySet<string> = new Set(['ready', 'sent', 'memory', 'error']);

function isReport(value: unknown): value is ChildReport {
  if (typeof value !== 'object' || value === null || !('type' in value)) return false;
  return typeof value.type === 'string' && REPORT_TYPES.has(value.type);
}

export function libFile(name: string): string {
  return fileURLToPath(new URL(`./${name}`, import.meta.url));
}

/**
 * Forks a TypeScript child through tsx. execArgv is explicit because fork() would otherwise inherit the
 * parent's, which carry tsx's own loader flags plus whatever the parent was started with.
 */
export function forkChild(file: string, env: Record<string, string>, nodeFlags: readonly string[] = []): ChildProcess {
  const child = fork(file, [], {
    execArgv: [...nodeFlags, '--import', 'tsx'],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  // A child that exits while we talk to it makes IPC writes fail with EPIPE; nextReport() already turns
  // its exit into an error, so the event itself must not crash the run.
  child.on('error', (err) => process.stderr.write(`[bench] child ${child.pid ?? '?'}: ${err.message}\n`));
  return child;
}

/** The next report of the wanted type; rejects on an `error` report, on child exit, or after timeoutMs. */
export function nextReport<T extends ChildReport['type']>(
  child: ChildProcess,
  type: T,
  timeoutMs: number,
): Promise<Extract<ChildReport, { type: T }>> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    const onMessage = (msg: unknown): void => {
      if (!isReport(msg)) return;
      if (msg.type === 'error') {
        cleanup();
        reject(new Error(`child ${child.pid ?? '?'}: ${msg.message}`));
      } else if (msg.type === type) {
        cleanup();
        resolve(msg as Extract<ChildReport, { type: T }>);
      }
    };
    const onExit = (code: number | null, signal: string | null): void => {
      cleanup();
      reject(new Error(`child ${child.pid ?? '?'} exited (code ${String(code)}, signal ${String(signal)}) before '${type}'`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`child ${child.pid ?? '?'}: no '${type}' within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

export function send(child: ChildProcess, command: ParentCommand): void {
  child.send(command);
}

/** Asks the child to stop, and kills it (by its own pid, via the handle) if it does not exit in time. */
export async function stopChild(child: ChildProcess, graceMs = 2000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // With a callback, a send to a child that is already leaving reports EPIPE there instead of throwing.
  if (child.connected) child.send({ type: 'stop' } satisfies ParentCommand, () => undefined);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Child side: reports to the parent, and the command parser for what the parent sends. */
export function report(msg: ChildReport): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) return resolve();
    // The callback fires once the message is handed to the channel, so exiting after it loses nothing.
    process.send(msg, undefined, {}, () => resolve());
  });
}

export function isCommand(value: unknown): value is ParentCommand {
  if (typeof value !== 'object' || value === null || !('type' in value)) return false;
  if (value.type === 'stop') return true;
  return value.type === 'burst' && 'count' in value && typeof value.count === 'number';
}
