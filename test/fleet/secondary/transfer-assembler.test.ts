import t from 'tap';
import { RRType } from '../../../src/wire/constants';
import type { WireRecord } from '../../../src/fleet/codec/message';
import type { ZoneRecord } from '../../../src/fleet/codec/zone-record';
import { zoneRecordToWire } from '../../../src/fleet/codec/zone-record-wire';
import { TransferAssembler } from '../../../src/fleet/secondary/transfer-assembler';

const Z = 'privatelink.rpz';
const soa = (serial: number): ZoneRecord => ({ name: Z, type: RRType.SOA, ttl: 60, data: `ns.${Z} hostmaster.${Z} ${serial} 30 10 600 60` });
const a = (n: string, ip: string): ZoneRecord => ({ name: `${n}.${Z}`, type: RRType.A, ttl: 30, data: ip });
const w = (rs: ZoneRecord[]): WireRecord[] => rs.map(zoneRecordToWire);
const NS: ZoneRecord = { name: Z, type: RRType.NS, ttl: 60, data: `ns.${Z}` };
const MX: WireRecord = { name: Z, type: RRType.MX, class: 1, ttl: 1, rdata: Buffer.from([0, 1, 0]) };

t.test('AXFR: SOA, records, SOA — across messages', async (t) => {
  const x = new TransferAssembler(`${Z}.`);
  t.notOk(x.push(w([soa(5), NS])));
  t.notOk(x.push([MX, ...w([a('x', '10.0.0.1')])]), 'unsupported types are skipped');
  t.notOk(x.push([]));
  t.ok(x.push(w([a('y', '10.0.0.2'), soa(5)])));
  t.same(x.result(), { kind: 'axfr', serial: 5, records: [soa(5), NS, a('x', '10.0.0.1'), a('y', '10.0.0.2')] });
});

t.test('IXFR: up to date, incremental, AXFR-style', async (t) => {
  const up = new TransferAssembler(Z, 5);
  t.ok(up.push(w([soa(5)])));
  t.same(up.result(), { kind: 'uptodate', serial: 5 });
  const older = new TransferAssembler(Z, 5);
  t.ok(older.push(w([soa(4)])));
  t.same(older.result(), { kind: 'uptodate', serial: 4 }, 'a primary behind us: nothing to take');
  const wrapped = new TransferAssembler(Z, 0xffffffff);
  t.notOk(wrapped.push(w([soa(1)])), 'serial 1 is newer than 2^32-1 (RFC 1982)');

  const inc = new TransferAssembler(Z, 5);
  t.notOk(inc.push(w([soa(7), soa(5), a('x', '10.0.0.1'), soa(6)])));
  t.notOk(inc.push(w([a('y', '10.0.0.2'), soa(6), soa(7), a('z', '10.0.0.3')])));
  t.ok(inc.push(w([soa(7)])));
  t.same(inc.result(), {
    kind: 'ixfr', fromSerial: 5, serial: 7, changes: [
      { fromSerial: 5, toSerial: 6, removed: [a('x', '10.0.0.1')], added: [a('y', '10.0.0.2')], fromSoa: soa(5), toSoa: soa(6) },
      { fromSerial: 6, toSerial: 7, removed: [], added: [a('z', '10.0.0.3')], fromSoa: soa(6), toSoa: soa(7) },
    ],
  });

  const full = new TransferAssembler(Z, 2);
  t.ok(full.push(w([soa(7), NS, a('x', '10.0.0.1'), soa(7)])));
  t.same(full.result(), { kind: 'axfr', serial: 7, records: [soa(7), NS, a('x', '10.0.0.1')] });
  const onlySoa = new TransferAssembler(Z, 2);
  t.ok(onlySoa.push(w([soa(7), soa(7)])));
  t.same(onlySoa.result(), { kind: 'axfr', serial: 7, records: [soa(7)] });
});

t.test('protocol violations throw XFR_FAILED', async (t) => {
  const cases: [string, number | undefined, ZoneRecord[][]][] = [
    ['no leading SOA', undefined, [[NS]]],
    ['record outside the zone', undefined, [[soa(1), { name: 'example.com', type: RRType.A, ttl: 1, data: '10.0.0.1' }]]],
    ['name that only ends like the zone', undefined, [[soa(1), { name: 'evilprivatelink.rpz', type: RRType.A, ttl: 1, data: '10.0.0.1' }]]],
    ['name that only looks inside', undefined, [[soa(1), { name: 'x\\.privatelink.rpz', type: RRType.A, ttl: 1, data: '10.0.0.1' }]]],
    ['SOA below the apex', undefined, [[soa(1), { ...soa(1), name: `sub.${Z}` }]]],
    ['other serial inside AXFR', undefined, [[soa(2), NS, soa(3)]]],
    ['records after the closing SOA', undefined, [[soa(2), NS, soa(2), NS]]],
    ['up-to-date SOA not alone', 5, [[soa(5), NS]]],
    ['incremental from another serial', 5, [[soa(7), soa(4), soa(7), soa(7)]]],
    ['change to an older serial', 5, [[soa(7), soa(5), soa(4)]]],
    ['changes that do not chain', 5, [[soa(7), soa(5), soa(6), soa(5)]]],
  ];
  for (const [label, current, messages] of cases) {
    const x = new TransferAssembler(Z, current);
    t.throws(() => {
      for (const m of messages) x.push(w(m));
    }, { code: 'XFR_FAILED' }, label);
  }
  t.throws(() => new TransferAssembler(Z).result(), { code: 'XFR_FAILED' }, 'result before the end');
});
