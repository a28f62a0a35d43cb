// The production logger (createLogger: JSON lines, secret redaction included) writing into memory, so a
// test reads back what an operator would see, including what the redaction left of a secret.
import { Writable } from 'node:stream';
import { createLogger, type LogLevel, type Logger } from '../../src/log/logger.js';

export interface CapturedLog {
  logger: Logger;
  /** Every JSON line so far, in order; grows as the logger writes. */
  lines: string[];
}

export function captureLog(level: LogLevel): CapturedLog {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { logger: createLogger({ level, pretty: false, destination }), lines };
}
