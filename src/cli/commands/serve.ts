import { App } from '../../daemon/app';
import { heapPlan } from '../../runtime/heap-settings-apply';
import { loadConfigFile, formatProblems, releaseConfigParser } from '../../config/load';
import type { Config } from '../../config/schema';
import { describeError, isPldnsError } from '../../errors';
import { createLogger, logFatal, type Logger } from '../../runtime/log';
import type { RunningSimulator } from '../../simulator';
import { systemdNotifier, type ServiceNotifier } from '../../runtime/sd-notify';
import { VERSION } from '../version';
import { EXIT_FAILURE, EXIT_OK, exitCodeFor } from '../exit-codes';

interface ServeOptions {
  configPath: string | null;
  demo: boolean;
  /** --demo only: listen addresses instead of the demo's 127.0.0.1:5353 and 127.0.0.1:8053. */
  demoListen?: { dns?: string; http?: string };
}

/**
 * Runs the daemon until SIGTERM/SIGINT. SIGHUP re-reads the config file: an invalid file is
 * logged and the running config stays; SIGUSR2 makes the table source fetch now. A failure to start is one `level: fatal` JSON line with
 * the error's code, like every other line the daemon writes, and the exit code (2: a restart
 * will not help).
 */
export async function runServe(options: ServeOptions): Promise<number> {
  try {
    return await serve(options);
  } catch (err) {
    const problems = isPldnsError(err, 'CONFIG_INVALID') ? formatProblems(err.details?.problems ?? []) : undefined;
    logFatal(err, 'privatelink-dns could not start', { ...(problems ? { problems } : {}), ...(options.configPath ? { configPath: options.configPath } : {}) });
    return exitCodeFor(err);
  }
}

async function serve(options: ServeOptions): Promise<number> {
  let config: Config;
  let simulator: RunningSimulator | undefined;
  if (options.demo) {
    ({ config, simulator } = await (await import('../demo-config')).startDemo(options.demoListen));
  } else {
    config = loadConfigFile(options.configPath as string);
  }
  // The YAML parser's modules are not needed again until SIGHUP.
  releaseConfigParser();
  const logger = createLogger(config.log.level);
  if (simulator) logger.info({ simulator: simulator.url }, 'demo mode: PrivateLink simulator running in process');
  let notifier: ServiceNotifier;
  try {
    notifier = systemdNotifier(logger);
  } catch (err) {
    await simulator?.close();
    throw err;
  }
  installProcessGuards(logger);
  const app = new App({
    config,
    configPath: options.demo ? null : options.configPath,
    logger,
    version: VERSION,
    statusExtras: simulator ? () => ({ demo: { simulator: simulator?.url } }) : undefined,
    capYoungGeneration: heapPlan.capYoungGeneration,
  });
  try {
    await app.start();
  } catch (err) {
    await app.stop().catch(() => undefined);
    await simulator?.close();
    throw err;
  }
  notifier.ready(`answering ${app.table.size} names`);

  let reloading = Promise.resolve();
  process.on('SIGHUP', () => {
    reloading = reloading.then(() => reload(app, options, logger));
  });
  process.on('SIGUSR2', () => app.refetch());

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      notifier.stopping();
      const lameduckMs = app.currentConfig.limits.lameduckMs;
      logger.info({ signal, lameduckMs }, 'shutting down: readiness off, then listeners close');
      app.stop(lameduckMs)
        .then(() => simulator?.close())
        .then(
          () => resolve(EXIT_OK),
          (err) => {
            logger.error({ err: describeError(err) }, 'shutdown failed');
            resolve(EXIT_FAILURE);
          },
        );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
}

async function reload(app: App, options: ServeOptions, logger: Logger): Promise<void> {
  if (options.demo || !options.configPath) {
    logger.info('SIGHUP: nothing to reload in demo mode');
    return;
  }
  let next: Config;
  try {
    next = loadConfigFile(options.configPath);
  } catch (err) {
    releaseConfigParser();
    app.metrics.reloads.inc({ result: 'invalid' });
    const problems = isPldnsError(err, 'CONFIG_INVALID') ? formatProblems(err.details?.problems ?? []) : [describeError(err)];
    logger.error({ configPath: options.configPath, problems }, 'SIGHUP: the new config is invalid; keeping the running config');
    return;
  }
  releaseConfigParser();
  try {
    await app.reload(next);
  } catch (err) {
    app.metrics.reloads.inc({ result: 'error' });
    logger.error({ err: describeError(err) }, 'SIGHUP: reload failed part-way; check listeners in /status');
  }
}

/**
 * A bug in one query must cost that query, never the process. An exception nothing caught is a
 * bug whose damage is unknown: one fatal line, exit 1, and the service manager restarts us.
 */
function installProcessGuards(logger: Logger): void {
  process.on('unhandledRejection', (reason) => {
    logger.error({ err: describeError(reason) }, 'unhandled promise rejection (bug); continuing');
  });
  process.on('uncaughtException', (err) => {
    logger.flush();
    logFatal(err, 'uncaught exception (bug); exiting');
    process.exit(EXIT_FAILURE);
  });
}
