import type { TsigKey } from '../codec/tsig';
import { NotifyChannel } from './notify-channel';
import type { NotifySender } from './notifier';

/** One NOTIFY attempt's deadline; the notifier retries with backoff. */
const NOTIFY_TIMEOUT_MS = 2000;

let shared: NotifyChannel | undefined;
/** One channel per process, kept over reloads (its sockets do not keep the process alive). */
function sharedChannel(): NotifyChannel {
  shared ??= new NotifyChannel();
  return shared;
}

/**
 * NOTIFY over UDP (one shared socket, notify-channel.ts), signed with the key the target uses (by
 * name: the key a learned secondary signed its requests with) or else the hub's first key.
 */
export function notifySender(keys: TsigKey | readonly TsigKey[] | undefined, channel: NotifyChannel = sharedChannel()): NotifySender {
  const list: readonly TsigKey[] = keys === undefined ? [] : Array.isArray(keys) ? keys : [keys as TsigKey];
  return (target, zone, serial, keyName) => {
    const key = (keyName === undefined ? undefined : list.find((k) => k.name === keyName)) ?? list[0];
    return channel.send(target, zone, serial, key, NOTIFY_TIMEOUT_MS);
  };
}
