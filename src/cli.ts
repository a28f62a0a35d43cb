import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, redactConfig, unrecognisedEnvNames } from './config/index.js';
import { LOG_LEVELS } from './config/types.js';
import { isOneOf } from './validation/one-of.js';
import { createLogger, createSplitLogger, openLogFile, type LogLevel, type Logger } from './log/logger.js';

const USAGE = `evse-priority — user charging priorities for EVerest over MQTT

Usage:
  evse-priority run --config <file>          run the module until SIGINT/SIGTERM
  evse-priority check-config <file>          validate a config file (and env overrides), print it redacted
  evse-priority sim --url <mqtt-url> --module-id <id> [--module-id <id> ...] [--scenario <file>] [--seed N]
                                             an EVerest-like simulator for the evse_manager_consumer_API
  evse-priority demo [--port N] [--http-port N] [--log-level L] [--log-file F]
                                             embedded broker + three simulated EVSEs + the module + the
                                             dashboard (npm start); warnings only on the console by default
  evse-priority help

Environment: EVSE_PRIORITY_MQTT_URL, EVSE_PRIORITY_HTTP_TOKEN and one EVSE_PRIORITY_<KEY> per config key.`;

/** Runs until a signal, then stops cleanly; a second signal forces exit. */
async function untilSignal(logger: Logger, stop: () => Promise<void>): Promise<void> {
  await new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting now');
        process.exit(130);
      }
      stopping = true;
      logger.info({ signal }, 'shutting down');
      stop().then(resolve, (err: Error) => {
        logger.error({ err: err.message }, 'error during shutdown');
        process.exitCode = 1;
        resolve();
      });
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'run': {
      const { values } = parseArgs({ args: rest, options: { config: { type: 'string', short: 'c' } } });
      const config = loadConfig({ ...(values.config ? { file: values.config } : {}) });
      const logger = createLogger({ level: config.log.level, ...(config.log.pretty !== undefined ? { pretty: config.log.pretty } : {}) });
      for (const name of unrecognisedEnvNames()) logger.warn({ env: name }, 'environment variable matches no config key');
      logger.debug({ config: redactConfig(config) }, 'configuration');
      // Each command loads only what it runs (the bundle evaluates a module on its first import): `run`
      // never evaluates the simulator, `check-config` not even the MQTT client.
      const { startApp } = await import('./app.js');
      const app = await startApp(config, logger);
      await untilSignal(logger, () => app.stop());
      return;
    }
    case 'check-config': {
      const file = rest[0];
      if (!file) throw new UsageError('check-config needs a file');
      const config = loadConfig({ file });
      process.stdout.write(`${file}: OK (${config.evses.length} EVSE(s), namespace ${config.namespace})\n`);
      process.stdout.write(`${JSON.stringify(redactConfig(config), null, 2)}\n`);
      return;
    }
    case 'sim': {
      const logger = createLogger({ level: 'info' });
      const { runSimCommand } = await import('./sim/cli.js');
      const stop = await runSimCommand(rest, logger);
      await untilSignal(logger, stop);
      return;
    }
    case 'demo': {
      const { values } = parseArgs({
        args: rest,
        options: { port: { type: 'string' }, 'http-port': { type: 'string' }, 'log-level': { type: 'string' }, 'log-file': { type: 'string' } },
      });
      // The page is where a newcomer looks: the console shows warnings only unless asked for more.
      const asked = values['log-level'] ?? process.env.EVSE_PRIORITY_LOG_LEVEL;
      if (asked !== undefined && !isOneOf(LOG_LEVELS, asked)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
      const level = (asked ?? 'warn') as LogLevel;
      const file = values['log-file'] ? openLogFile(values['log-file']) : undefined;
      const logger = createSplitLogger({ consoleLevel: level, ...(file ? { file } : {}) });
      // The simulated EVerest talks only when asked to (its start-up faults are part of the act).
      const simLogger = createSplitLogger({ consoleLevel: asked !== undefined ? level : 'silent', ...(file ? { file } : {}) });
      const hint =
        `${asked === undefined ? 'warnings only here' : `${level} and above here`}` +
        (values['log-file'] ? `; everything in ${values['log-file']}` : '; --log-level debug or --log-file demo.log for all of it');
      const { runDemo } = await import('./demo.js');
      const demo = await runDemo({
        logger,
        simLogger,
        logHint: hint,
        ...(values.port ? { brokerPort: Number(values.port) } : {}),
        ...(values['http-port'] ? { httpPort: Number(values['http-port']) } : {}),
      });
      await untilSignal(logger, demo.stop);
      return;
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${USAGE}\n`);
      return;
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

class UsageError extends Error {}

main(process.argv.slice(2)).then(
  () => {
    // No forced exit: every timer and socket is closed by now, and the event loop ending on its own
    // is the proof (a leaked handle would keep the process alive and show up in tests).
  },
  (err: unknown) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    if (err instanceof UsageError) {
      process.stderr.write(`${err.message}\n\n${USAGE}\n`);
      process.exit(64);
    }
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
