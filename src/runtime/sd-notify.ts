import { PldnsError } from '../errors';
import type { Logger } from './log';
import { loadNativeAddon, type NativeAddonLoad } from '../native/addon';

/** Sends one datagram to a unix socket; returns undefined or the errno name. */
export type NotifySend = (socketPath: string, message: string) => string | undefined;

/** What the daemon tells its service manager; a no-op when not started by systemd with Type=notify. */
export interface ServiceNotifier {
  /** Listeners bound and the table (snapshot) loaded: systemd starts units ordered after us. */
  ready(status: string): void;
  stopping(): void;
}

/**
 * sd_notify(3) from `$NOTIFY_SOCKET`, with `WATCHDOG=1` every half `$WATCHDOG_USEC` from ready()
 * on (a blocked event loop stops the pings and systemd restarts us).
 *
 * The datagram goes through the native addon: Node's dgram has no unix datagram sockets, and
 * spawning `systemd-notify` would send from the child's pid, which `NotifyAccess=main` rejects.
 * Without the addon a Type=notify start cannot succeed, so that is an error at start (exit 2, no
 * restart loop) rather than a silent start timeout.
 */
export function systemdNotifier(logger: Logger, env: NodeJS.ProcessEnv = process.env, loadAddon: () => NativeAddonLoad = loadNativeAddon): ServiceNotifier {
  const socketPath = env.NOTIFY_SOCKET;
  if (!socketPath) return { ready: () => undefined, stopping: () => undefined };
  const transport = nativeSend(loadAddon());
  const watchdogMs = watchdogIntervalMs(env);
  let watchdog: NodeJS.Timeout | undefined;
  const notify = (message: string): void => {
    const err = transport(socketPath, message);
    if (err) logger.warn({ socket: socketPath, message, err }, 'sd_notify failed');
  };
  return {
    ready(status) {
      notify(`READY=1\nSTATUS=${status}\nMAINPID=${process.pid}`);
      if (watchdogMs !== undefined && !watchdog) {
        watchdog = setInterval(() => notify('WATCHDOG=1'), watchdogMs);
        watchdog.unref();
      }
    },
    stopping() {
      if (watchdog) clearInterval(watchdog);
      watchdog = undefined;
      notify('STOPPING=1');
    },
  };
}

function nativeSend(load: NativeAddonLoad): NotifySend {
  if (!load.ok) {
    throw new PldnsError('SD_NOTIFY', `NOTIFY_SOCKET is set (systemd Type=notify) but the native addon that sends to it is missing: ${load.reason}`);
  }
  const binding = load.binding;
  if (typeof binding.notify !== 'function') throw new PldnsError('SD_NOTIFY', 'the native addon predates sd_notify support; rebuild with `npm run build`');
  return (path, message) => binding.notify(path, message);
}

/** Half of WATCHDOG_USEC, when the watchdog is meant for this process (WATCHDOG_PID absent or ours). */
function watchdogIntervalMs(env: NodeJS.ProcessEnv): number | undefined {
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isFinite(usec) || usec <= 0) return undefined;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== process.pid) return undefined;
  return Math.max(1, Math.floor(usec / 2000));
}
