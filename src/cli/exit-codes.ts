import { isPldnsError } from '../errors';

/** Process exit codes (SPEC "Command line"): 0 ok, 1 runtime failure, 2 bad usage or bad config. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/**
 * 2 for what a restart cannot fix (usage, config, a Type=notify unit without the addon): the
 * systemd unit's RestartPreventExitStatus=2 keeps those from restart-looping. 1 for the rest.
 */
export function exitCodeFor(err: unknown): number {
  const permanent = isPldnsError(err, 'USAGE') || isPldnsError(err, 'CONFIG_READ') || isPldnsError(err, 'CONFIG_INVALID') || isPldnsError(err, 'SD_NOTIFY');
  return permanent ? EXIT_USAGE : EXIT_FAILURE;
}
