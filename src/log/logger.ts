import { pino } from 'pino';
import type { DestinationStream, Level, LevelWithSilent, LoggerOptions } from 'pino';
import pinoPretty from 'pino-pretty';
import { REDACTED, redactSecrets, redactUrlsIn, secretKeys } from './redact.js';

/** The logger every component receives; components derive their own with `.child({ component })`. */
export type Logger = pino.Logger;

/** A level a logger or sink may be set to, 'silent' included. */
export type LogLevel = LevelWithSilent;

export { REDACTED };

/**
 * Every line passes through the one redactor (src/log/redact.ts) on its way out: the fields (secret
 * keys at any depth, URLs inside any string, errors included) and the message text. Path lists alone
 * could not do this: they match fixed depths, and a URL with a password turns up in error messages as
 * well as in `url` fields.
 */
export function logRedaction(): Pick<LoggerOptions, 'formatters' | 'hooks' | 'serializers' | 'redact'> {
  return {
    // A child's bindings bypass the formatters (pino resets them for children): the same secret keys
    // at the top level of the bindings are censored by pino itself.
    redact: { paths: secretKeys().map((k) => (/^[a-z_]+$/.test(k) ? k : `["${k}"]`)), censor: REDACTED },
    formatters: {
      log: (fields) => redactSecrets(fields),
    },
    hooks: {
      logMethod(args, method) {
        const safe = args.map((arg: unknown) => (typeof arg === 'string' ? redactUrlsIn(arg) : arg));
        method.apply(this, safe as Parameters<typeof method>);
      },
    },
    // Errors are already plain objects by the time serializers run (the log formatter comes first).
    serializers: { err: (value: unknown) => value },
  };
}

export interface CreateLoggerOptions {
  level: LevelWithSilent;
  /** Human-readable lines instead of JSON; defaults to whether stdout is a terminal. */
  pretty?: boolean;
  /** Where lines go instead of stdout, e.g. a stream a test reads back. */
  destination?: DestinationStream;
}

/** The root logger; the composition root creates one and passes it (or children of it) down. */
export function createLogger(options: CreateLoggerOptions): Logger {
  const pretty = options.pretty ?? process.stdout.isTTY === true;
  const base: LoggerOptions = {
    level: options.level,
    ...logRedaction(),
  };
  if (!pretty) return options.destination === undefined ? pino(base) : pino(base, options.destination);
  // In process, not in a worker-thread transport: a transport loads its target by file name, which a
  // single-file bundle does not have. Pretty lines are for a person at a terminal; chargers log JSON.
  if (options.destination !== undefined) return pino(base, pinoPretty({ destination: options.destination, colorize: false, sync: true }));
  return pino(base, pinoPretty({ destination: 1, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }));
}

export interface SplitLoggerOptions {
  /** What reaches the console ('silent': nothing). */
  consoleLevel: LevelWithSilent;
  /** Human-readable console lines; defaults to whether stdout is a terminal. */
  pretty?: boolean;
  /** A log file (openLogFile) that receives JSON lines from `fileLevel` up, whatever the console shows. */
  file?: DestinationStream;
  fileLevel?: Level;
}

/** Appends JSON lines to `path` (directories created); one stream can serve several loggers. */
export function openLogFile(path: string): DestinationStream {
  return pino.destination({ dest: path, mkdir: true, append: true, sync: false });
}

/** A quiet console and, optionally, the whole story in a file: the demo's logging. */
export function createSplitLogger(options: SplitLoggerOptions): Logger {
  const streams: pino.StreamEntry[] = [];
  if (options.consoleLevel !== 'silent') {
    const pretty = options.pretty ?? process.stdout.isTTY === true;
    const stream = pretty ? pinoPretty({ destination: 1, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', sync: true }) : pino.destination(1);
    streams.push({ level: options.consoleLevel, stream });
  }
  const fileLevel = options.fileLevel ?? 'debug';
  if (options.file) streams.push({ level: fileLevel, stream: options.file });
  const levels = streams.map((s) => pino.levels.values[s.level ?? 'info'] ?? Infinity);
  const lowest = levels.length === 0 ? 'silent' : (pino.levels.labels[Math.min(...levels)] ?? 'info');
  return pino({ level: lowest, ...logRedaction() }, pino.multistream(streams));
}
