import t from 'tap';
import { randomBytes } from 'node:crypto';
import { RCode, RCODE_NOTAUTH } from '../../../src/wire/constants';
import { TsigError, type TsigKey } from '../../../src/fleet/codec/tsig';
import { NotifyChannel } from '../../../src/fleet/primary/notify-channel';
import { namedKey, startNamed } from '../../helpers/named';

/**
 * The hub's NOTIFY sender against a real BIND 9 secondary: named acknowledges our signed NOTIFY
 * and acts on the serial; it refuses one for a zone it does not hold (XFR_REFUSED) and answers a
 * wrong secret or an unknown key with a TSIG error (XFR_BAD_TSIG), each told apart by its code.
 */

const Z = 'privatelink.rpz';
const KEY: TsigKey = { name: 'fleet', algorithm: 'hmac-sha256', secret: randomBytes(32) };
const ZONE_FILE = `$TTL 60
@ SOA ns.privatelink.rpz. hostmaster.privatelink.rpz. 1 30 10 600 60
@ NS ns.privatelink.rpz.
ns A 127.0.0.1
www.example.com A 10.0.0.1
`;
const TIMEOUT_MS = 10_000;

t.test('named acknowledges our NOTIFY, refuses another zone, and says which TSIG error', async (t) => {
  const primary = await startNamed({
    config: `${namedKey('fleet', 'hmac-sha256', KEY.secret)}
zone "${Z}" { type primary; file "rpz.zone"; allow-transfer { key fleet; }; };`,
    files: { 'rpz.zone': ZONE_FILE },
  });
  t.teardown(() => primary.stop());
  // named as a secondary of the named above, told of changes by NOTIFY signed with the key.
  const secondary = await startNamed({
    config: `${namedKey('fleet', 'hmac-sha256', KEY.secret)}
zone "${Z}" { type secondary; file "copy.zone"; primaries { 127.0.0.1 port ${primary.port} key fleet; }; allow-notify { 127.0.0.1; }; };`,
  });
  t.teardown(() => secondary.stop());
  const channel = new NotifyChannel();
  t.teardown(() => channel.close());
  const target = { host: '127.0.0.1', port: secondary.port, family: 4 as const };

  // named's own first transfer from its primary: a NOTIFY during it is only queued ("refresh in
  // progress"), and named would not log our serial.
  await secondary.waitForLog(/transferred serial 1/, 10_000);
  t.same(await channel.send(target, Z, 5, KEY, TIMEOUT_MS), { result: 'ack' }, 'signed NOTIFY acknowledged');
  await secondary.waitForLog(/notify from 127\.0\.0\.1#\d+: serial 5/, 10_000);
  t.pass('named logged our serial');

  const other = await channel.send(target, 'other.zone', 5, KEY, TIMEOUT_MS);
  t.match(other, { result: 'declined', error: { code: 'XFR_REFUSED', details: { server: `127.0.0.1:${secondary.port}`, zone: 'other.zone' } } }, 'a zone it does not hold');
  t.ok(other.result === 'declined' && [RCode.REFUSED, RCODE_NOTAUTH].includes(other.error.details?.rcode as number), `named answered ${other.result === 'declined' ? other.error.message : ''}`);

  const wrongSecret = await channel.send(target, Z, 5, { ...KEY, secret: randomBytes(32) }, TIMEOUT_MS);
  t.match(wrongSecret, { result: 'declined', error: { code: 'XFR_BAD_TSIG', details: { rcode: RCODE_NOTAUTH, tsigError: TsigError.BADSIG } } }, 'wrong secret: BADSIG');
  const unknownKey = await channel.send(target, Z, 5, { ...KEY, name: 'stranger' }, TIMEOUT_MS);
  t.match(unknownKey, { result: 'declined', error: { code: 'XFR_BAD_TSIG', details: { rcode: RCODE_NOTAUTH, tsigError: TsigError.BADKEY } } }, 'unknown key: BADKEY');
});
