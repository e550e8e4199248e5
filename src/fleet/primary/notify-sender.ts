import { isPldnsError } from '../../errors';
import type { TsigKey } from '../codec/tsig';
import { sendNotify } from '../secondary/xfr-client';
import type { NotifySender } from './notifier';

/** One NOTIFY attempt's deadline; the notifier retries with backoff. */
const NOTIFY_TIMEOUT_MS = 2000;

/** NOTIFY over UDP, signed with `key` when the hub has one; REFUSED/NOTAUTH means "not carried there". */
export function notifySender(key: TsigKey | undefined): NotifySender {
  return async (target, zone, serial) => {
    try {
      await sendNotify(target, zone, serial, { ...(key ? { key } : {}), timeoutMs: NOTIFY_TIMEOUT_MS });
      return 'ack';
    } catch (err) {
      if (isPldnsError(err, 'XFR_REFUSED')) return 'declined';
      throw err;
    }
  };
}
