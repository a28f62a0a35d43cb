import { pino } from 'pino';
import type { DestinationStream, Level, LevelWithSilent, LoggerOptions } from 'pino';
import pinoPretty from 'pino-pretty';
import { REDACTED, redactUrl } from './redact.js';

/** The logger every component receives; components derive their own with `.child({ component })`. */
export type Logger = pino.Logger;

/** A level a logger or sink may be set to, 'silent' included. */
export type LogLevel = LevelWithSilent;

export { REDACTED };

const SECRET_KEYS = ['password', 'passwd', 'token', 'tokens', 'secret', 'authorization', 'cookie', 'set-cookie', 'x-api-key', 'apikey', 'api_key', 'client_secret', 'access_token'];

/**
 * fast-redact matches exact depths, so each secret key is listed at the depths our objects put it:
 * a bare field, one level down (`mqtt.password`, `headers.authorization`) and two levels down
 * (`config.mqtt.password`, `req.headers.authorization`).
 */
export const REDACT_PATHS: readonly string[] = [
  ...SECRET_KEYS.flatMap((k) => {
    const key = /^[A-Za-z_$][\w$]*$/.test(k) ? k : `["${k}"]`;
    const sep = key.startsWith('[') ? '' : '.';
    return [key, `*${sep}${key}`, `*.*${sep}${key}`];
  }),
  'webhooks[*].secret',
  '*.webhooks[*].secret',
  'url',
  '*.url',
  '*.*.url',
  '*.webhooks[*].url',
  'webhooks[*].url',
];

/** URLs are worth keeping in logs; only the password of `scheme://user:password@host` is hidden. */
function censor(value: unknown, path: string[]): unknown {
  if (path[path.length - 1] !== 'url') return REDACTED;
  return typeof value === 'string' ? redactUrl(value) : value;
}

function redaction(): LoggerOptions['redact'] {
  return { paths: [...REDACT_PATHS], censor };
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
    redact: redaction(),
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
  return pino({ level: lowest, redact: redaction() }, pino.multistream(streams));
}
