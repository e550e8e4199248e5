import { isPldnsError } from '../../errors';
import type { TsigKey } from '../codec/tsig';
import { sendNotify } from '../secondary/xfr-client';
import type { NotifySender } from './notifier';

/** One NOTIFY attempt's deadline; the notifier retries with backoff. */
const NOTIFY_TIMEOUT_MS = 2000;

/**
 * NOTIFY over UDP, signed with the target's own key (`transfer.notify` "ADDRESS key:NAME") or else
 * `key` when the hub has one; REFUSED/NOTAUTH means "not carried there".
 */
export function notifySender(key: TsigKey | undefined): NotifySender {
  return async (target, zone, serial) => {
    const signWith = target.key ?? key;
    try {
      await sendNotify(target, zone, serial, { ...(signWith ? { key: signWith } : {}), timeoutMs: NOTIFY_TIMEOUT_MS });
      return 'ack';
    } catch (err) {
      if (isPldnsError(err, 'XFR_REFUSED')) return 'declined';
      throw err;
    }
  };
}
