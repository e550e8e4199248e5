import type { TsigKey } from '../codec/tsig';
import type { NotifyChannel } from './notify-channel';
import type { NotifySender } from './notifier';

/** One NOTIFY attempt's deadline; the notifier retries with backoff. */
const NOTIFY_TIMEOUT_MS = 2000;

/**
 * NOTIFY over UDP through `channel` (its sockets, notify-channel.ts, are the hub's and outlive a
 * reload), signed with the key the target uses (by name: the key a learned secondary signed its
 * requests with) or else the hub's first key.
 */
export function notifySender(keys: TsigKey | readonly TsigKey[] | undefined, channel: NotifyChannel): NotifySender {
  const list: readonly TsigKey[] = keys === undefined ? [] : Array.isArray(keys) ? keys : [keys as TsigKey];
  return (target, zone, serial, keyName) => {
    const key = (keyName === undefined ? undefined : list.find((k) => k.name === keyName)) ?? list[0];
    return channel.send(target, zone, serial, key, NOTIFY_TIMEOUT_MS);
  };
}
