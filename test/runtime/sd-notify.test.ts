import t from 'tap';
import pino from 'pino';
import { isPldnsError } from '../../src/errors';
import { exitCodeFor } from '../../src/cli/exit-codes';
import { systemdNotifier } from '../../src/runtime/sd-notify';

/** The start-up decisions of sd_notify; the datagrams themselves are in test/packaging/sd-notify.test.ts. */

const logger = pino({ level: 'silent' });

t.test('Type=notify without the addon: SD_NOTIFY at start, exit 2 so systemd does not restart-loop', async (t) => {
  let err: unknown;
  try {
    systemdNotifier(logger, { NOTIFY_SOCKET: '/run/systemd/notify' }, () => ({ ok: false, reason: 'addon not found (test)' }));
  } catch (e) {
    err = e;
  }
  t.ok(isPldnsError(err, 'SD_NOTIFY'), String(err));
  t.match((err as Error).message, /addon not found \(test\)/);
  t.equal(exitCodeFor(err), 2);
});

t.test('without NOTIFY_SOCKET the addon is not even loaded', async (t) => {
  let loads = 0;
  const n = systemdNotifier(logger, {}, () => {
    loads++;
    return { ok: false, reason: 'unused' };
  });
  n.ready('x');
  n.stopping();
  t.equal(loads, 0);
});
