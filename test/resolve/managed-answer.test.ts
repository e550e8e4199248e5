import t from 'tap';
import { Packet } from 'dns2';
import { parseQuery, type Query } from '../../src/wire/query';
import { buildManagedAnswer } from '../../src/resolve/managed-answer';
import { AnswerTable } from '../../src/resolve/table';
import { encodeQuery, decode, type QueryOptions } from '../helpers/wire';

const table = AnswerTable.build([
  { id: 'ep-1', names: ['cs-anony-vpc.cn-hangzhou.aliyuncs.com'], ipv4: ['192.168.1.1', '192.168.1.2', '192.168.1.3'], ipv6: [] },
  { id: 'ep-2', names: ['*.oss-cn-hangzhou-internal.aliyuncs.com'], ipv4: ['192.168.2.1'], ipv6: ['fd00::1', 'fd00::2'] },
  { id: 'ep-3', names: ['v6only.example.internal'], ipv4: [], ipv6: ['fd00::3'] },
], 42);

function q(name: string, type: number, edns: QueryOptions['edns'] = undefined): Query {
  const parsed = parseQuery(encodeQuery(name, { id: 0xbeef, type, edns }));
  if (parsed.kind !== 'query') throw new Error('bad test query');
  return parsed;
}

function answer(name: string, type: number, edns?: QueryOptions['edns']) {
  const query = q(name, type, edns);
  const m = table.lookup(query.qname);
  if (!m) throw new Error('not managed');
  return decode(buildManagedAnswer(query, m, 30, table.version));
}

t.test('A answer decodes with dns2: AA, RA, RD, TTL, all addresses', async (t) => {
  const r = answer('CS-ANONY-VPC.cn-hangzhou.aliyuncs.com', Packet.TYPE.A);
  t.equal(r.header.id, 0xbeef);
  t.equal(r.header.qr, 1);
  t.equal(r.header.aa, 1);
  t.equal(r.header.ra, 1);
  t.equal(r.header.rd, 1);
  t.equal(r.header.rcode, 0);
  t.equal(r.questions[0].name, 'CS-ANONY-VPC.cn-hangzhou.aliyuncs.com', 'question echoed with the client case');
  t.same(r.answers.map((a) => (a as { address: string }).address).sort(), ['192.168.1.1', '192.168.1.2', '192.168.1.3']);
  t.ok(r.answers.every((a) => a.ttl === 30 && a.type === Packet.TYPE.A && a.name === 'CS-ANONY-VPC.cn-hangzhou.aliyuncs.com'));
  t.equal(r.additionals.length, 1, 'our OPT');
  t.equal(r.additionals[0].type, Packet.TYPE.EDNS);
  t.equal(r.additionals[0].class, 1232);
});

t.test('rotation between responses', async (t) => {
  const firsts = new Set<string>();
  for (let i = 0; i < 3; i++) firsts.add((answer('cs-anony-vpc.cn-hangzhou.aliyuncs.com', Packet.TYPE.A).answers[0] as { address: string }).address);
  t.equal(firsts.size, 3, 'each address comes first once in three answers');
});

t.test('AAAA from the wildcard, with the query name as owner', async (t) => {
  const r = answer('bucket.oss-cn-hangzhou-internal.aliyuncs.com', Packet.TYPE.AAAA);
  t.equal(r.answers.length, 2);
  t.same(r.answers.map((a) => a.name), ['bucket.oss-cn-hangzhou-internal.aliyuncs.com', 'bucket.oss-cn-hangzhou-internal.aliyuncs.com']);
  t.ok(r.answers.every((a) => a.type === Packet.TYPE.AAAA));
});

t.test('NODATA with the apex SOA for AAAA without IPv6 and for other types', async (t) => {
  for (const type of [Packet.TYPE.AAAA, Packet.TYPE.MX, Packet.TYPE.TXT]) {
    const r = answer('cs-anony-vpc.cn-hangzhou.aliyuncs.com', type);
    t.equal(r.header.rcode, 0, 'NOERROR');
    t.equal(r.answers.length, 0, 'no answer');
    t.equal(r.authorities.length, 1);
    const soa = r.authorities[0] as { type: number; name: string; primary: string; admin: string; serial: number; minimum: number; ttl: number };
    t.equal(soa.type, Packet.TYPE.SOA);
    t.equal(soa.name, 'cs-anony-vpc.cn-hangzhou.aliyuncs.com');
    t.equal(soa.admin, 'hostmaster.cs-anony-vpc.cn-hangzhou.aliyuncs.com');
    t.equal(soa.serial, 42, 'serial is the table version');
    t.equal(soa.minimum, 30);
  }
  const w = answer('x.y.oss-cn-hangzhou-internal.aliyuncs.com', Packet.TYPE.MX);
  t.equal((w.authorities[0] as { name: string }).name, 'oss-cn-hangzhou-internal.aliyuncs.com', 'a wildcard NODATA uses the wildcard parent as the SOA owner');
});

t.test('ANY gets a minimal answer (RFC 8482)', async (t) => {
  const r = answer('cs-anony-vpc.cn-hangzhou.aliyuncs.com', Packet.TYPE.ANY);
  t.ok(r.answers.length > 0);
  t.ok(r.answers.every((a) => a.type === Packet.TYPE.A), 'one RRset only');
  const v6 = answer('v6only.example.internal', Packet.TYPE.ANY);
  t.ok(v6.answers.every((a) => a.type === Packet.TYPE.AAAA));
});

t.test('no OPT in the answer when the query had none; DO copied when it had', async (t) => {
  t.equal(answer('cs-anony-vpc.cn-hangzhou.aliyuncs.com', Packet.TYPE.A, false).additionals.length, 0);
  const r = answer('cs-anony-vpc.cn-hangzhou.aliyuncs.com', Packet.TYPE.A, { do: true });
  t.equal((r.additionals[0] as { doFlag?: boolean }).doFlag, true);
});
