import pino from 'pino';
import { describeError, isPldnsError } from '../errors';

export type Logger = pino.Logger;
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** The root logger: JSON lines on stdout (journald and kubectl logs read them as they are). */
export function createLogger(level: LogLevel, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'privatelink-dns' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

/**
 * The line that explains why the daemon could not start or had to stop, in the same JSON shape as
 * every other line (`journalctl -o cat | jq .` must not break on it), with the error's stable code.
 * Written synchronously: the process exits right after.
 */
export function logFatal(err: unknown, message: string, fields: Record<string, unknown> = {}): void {
  const logger = createLogger('fatal', pino.destination({ dest: 1, sync: true }));
  // A PldnsError carries a stable code (docs/errors.md); anything else is a bug, shown with its errno if it has one.
  const code = isPldnsError(err) ? err.code : ((err as NodeJS.ErrnoException | undefined)?.code ?? 'unexpected');
  const stack = isPldnsError(err) || !(err instanceof Error) ? undefined : err.stack;
  logger.fatal({ code, err: err instanceof Error ? err.message : String(err), ...(stack ? { stack } : {}), ...fields }, `${message}: ${describeError(err)}`);
}
