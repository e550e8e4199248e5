import t from 'tap';
import { decodeSoa, encodeSoa, formatSoa, parseSoa, type Soa } from '../../../src/fleet/codec/soa';
import { nameToWire } from '../../../src/wire/name-codec';

/** One typed SOA: presentation data and wire rdata both read into the same fields, and back. */

const SOA: Soa = { mname: 'localhost', rname: 'hostmaster.privatelink.rpz', serial: 4_294_967_295, refreshS: 60, retryS: 15, expireS: 1_209_600, minimumS: 30 };

t.test('presentation data and wire rdata round-trip to the same fields', async (t) => {
  const data = formatSoa(SOA);
  t.equal(data, 'localhost hostmaster.privatelink.rpz 4294967295 60 15 1209600 30');
  t.same(parseSoa(data), SOA);
  const rdata = encodeSoa(SOA);
  t.equal(rdata.length, nameToWire(SOA.mname).length + nameToWire(SOA.rname).length + 20);
  t.same(decodeSoa(rdata), SOA);
  t.equal(formatSoa({ ...SOA, serial: 2 ** 32 + 5 }).split(' ')[2], '5', 'a serial is written modulo 2^32');
  t.same(decodeSoa(encodeSoa({ ...SOA, mname: '', rname: '' })), { ...SOA, mname: '', rname: '' }, 'root names');
});

t.test('what is not an SOA is undefined (or WIRE_MALFORMED when encoding)', async (t) => {
  for (const bad of ['', 'a b 1 2 3 4', 'a b 1 2 3 4 5 6', 'a b x 2 3 4 5', 'a b 4294967296 2 3 4 5', 'a b -1 2 3 4 5', 'a b 1.5 2 3 4 5']) {
    t.equal(parseSoa(bad), undefined, JSON.stringify(bad));
  }
  const rdata = encodeSoa(SOA);
  t.equal(decodeSoa(rdata.subarray(0, rdata.length - 1)), undefined, 'a fixed field cut short');
  t.equal(decodeSoa(Buffer.concat([rdata, Buffer.from([0])])), undefined, 'a byte too many');
  t.equal(decodeSoa(Buffer.from([0xc0, 0x0c, 0, ...new Array(20).fill(0)])), undefined, 'a compression pointer');
  t.equal(decodeSoa(Buffer.from([5, 0x61])), undefined, 'a label past the end');
  t.throws(() => encodeSoa({ ...SOA, refreshS: -1 }), { code: 'WIRE_MALFORMED' });
  t.throws(() => encodeSoa({ ...SOA, mname: 'a..b' }), { code: 'WIRE_MALFORMED' });
});
