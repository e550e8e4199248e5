import { isPldnsError } from '../../errors';
import type { TsigKey } from '../codec/tsig';
import { sendNotify } from '../secondary/xfr-client';
import type { NotifySender } from './notifier';

/** One NOTIFY attempt's deadline; the notifier retries with backoff. */
const NOTIFY_TIMEOUT_MS = 2000;

/**
 * NOTIFY over UDP, signed with the key the target uses (by name: the key a learned secondary
 * signed its requests with) or else the hub's first key; REFUSED/NOTAUTH means "not carried there".
 */
export function notifySender(keys: TsigKey | readonly TsigKey[] | undefined): NotifySender {
  const list: readonly TsigKey[] = keys === undefined ? [] : Array.isArray(keys) ? keys : [keys as TsigKey];
  return async (target, zone, serial, keyName) => {
    const key = (keyName === undefined ? undefined : list.find((k) => k.name === keyName)) ?? list[0];
    try {
      await sendNotify(target, zone, serial, { ...(key ? { key } : {}), timeoutMs: NOTIFY_TIMEOUT_MS });
      return 'ack';
    } catch (err) {
      if (isPldnsError(err, 'XFR_REFUSED')) return 'declined';
      throw err;
    }
  };
}
