import t from 'tap';
import { Packet } from 'dns2';
import { parseQuery, type Query } from '../../src/wire/query';
import { scanResponse } from '../../src/wire/message-scan';
import { cutChainAtManaged } from '../../src/resolve/chain-cut';
import { AnswerTable } from '../../src/resolve/table';
import { decode, encodeQuery, encodeResponse, type ResponseRecord } from '../helpers/wire';

/** The cut against upstream answers encoded by another codec (dns2 compresses names). */
const table = AnswerTable.build([
  { id: 'ep-1', names: ['registry.internal.example', '*.oss.internal.example'], ipv4: ['10.0.0.5', '10.0.0.6'], ipv6: ['fd00::5'] },
  { id: 'ep-2', names: ['down.internal.example'], ipv4: [], ipv6: [] },
  { id: 'ep-3', names: ['pass.internal.example'], ipv4: [], ipv6: [], unavailable: 'forward' },
], 7);

function query(name: string, type: number = Packet.TYPE.A): Query {
  const p = parseQuery(encodeQuery(name, { id: 0x1111, type, edns: false }));
  if (p.kind !== 'query') throw new Error('bad query');
  return p;
}

function cut(qname: string, answers: ResponseRecord[], type: number = Packet.TYPE.A, rcode = 0) {
  const authorities = [{ name: 'example', type: Packet.TYPE.NS, ttl: 60, ns: 'ns.example' } as ResponseRecord];
  const reply = encodeResponse({ id: 0x1111, qname, qtype: type, rcode, answers, authorities });
  const scan = scanResponse(reply);
  if (!scan) throw new Error('scan failed');
  return cutChainAtManaged(reply, scan, query(qname, type), table, 42, 'servfail');
}

const CNAME = Packet.TYPE.CNAME;
const A = Packet.TYPE.A;

t.test('a chain into a managed name: CNAMEs kept, our addresses, nothing else', async (t) => {
  const r = cut('a.corp.example', [
    { name: 'a.corp.example', type: CNAME, ttl: 120, domain: 'b.corp.example' },
    { name: 'b.corp.example', type: CNAME, ttl: 90, domain: 'registry.internal.example' },
    { name: 'registry.internal.example', type: A, ttl: 300, address: '100.103.42.233' },
  ] as ResponseRecord[], A, 3);
  t.equal(r.kind, 'cut');
  if (r.kind !== 'cut') return;
  const p = decode(r.bytes);
  t.equal(p.header.rcode, 0, 'NOERROR even though the upstream said NXDOMAIN');
  t.equal(p.header.aa, 0, 'not authoritative');
  t.same(p.answers.filter((x) => x.type === CNAME).map((x) => [x.name, (x as { domain: string }).domain, x.ttl]),
    [['a.corp.example', 'b.corp.example', 120], ['b.corp.example', 'registry.internal.example', 90]]);
  t.same(p.answers.filter((x) => x.type === A).map((x) => [x.name, (x as { address: string }).address, x.ttl]).sort(),
    [['registry.internal.example', '10.0.0.5', 42], ['registry.internal.example', '10.0.0.6', 42]]);
  t.equal(p.authorities.length + p.additionals.length, 0, 'authority and additional dropped');
});

t.test('AAAA, wildcard, other types', async (t) => {
  const v6 = cut('x.corp.example', [{ name: 'x.corp.example', type: CNAME, ttl: 60, domain: 'b1.oss.internal.example' }] as ResponseRecord[], Packet.TYPE.AAAA);
  t.equal(v6.kind, 'cut');
  const v6Answers = v6.kind === 'cut' ? decode(v6.bytes).answers.filter((x) => x.type === Packet.TYPE.AAAA) : [];
  t.same(v6Answers.map((x) => (x as { address: string }).address), ['fd00::5']);
  const mx = cut('x.corp.example', [{ name: 'x.corp.example', type: CNAME, ttl: 60, domain: 'registry.internal.example' }] as ResponseRecord[], Packet.TYPE.MX);
  t.equal(mx.kind, 'cut');
  if (mx.kind === 'cut') t.same(decode(mx.bytes).answers.map((x) => x.type), [CNAME], 'MX: the CNAME only (NODATA for the managed name)');
});

t.test('no usable address: SERVFAIL, or relayed under on_unavailable forward', async (t) => {
  t.equal(cut('d.corp.example', [{ name: 'd.corp.example', type: CNAME, ttl: 60, domain: 'down.internal.example' }] as ResponseRecord[]).kind, 'servfail');
  t.equal(cut('p.corp.example', [{ name: 'p.corp.example', type: CNAME, ttl: 60, domain: 'pass.internal.example' }] as ResponseRecord[]).kind, 'none');
});

t.test('chains that do not reach a managed name, and CNAMEs not on the chain, are left alone', async (t) => {
  t.equal(cut('w.corp.example', [
    { name: 'w.corp.example', type: CNAME, ttl: 60, domain: 'www.public.example' },
    { name: 'www.public.example', type: A, ttl: 60, address: '192.0.2.1' },
  ] as ResponseRecord[]).kind, 'none');
  t.equal(cut('w.corp.example', [
    { name: 'other.corp.example', type: CNAME, ttl: 60, domain: 'registry.internal.example' },
    { name: 'w.corp.example', type: A, ttl: 60, address: '192.0.2.1' },
  ] as ResponseRecord[]).kind, 'none', 'a CNAME whose owner is not on the chain from the question');
  t.equal(cut('loop1.corp.example', [
    { name: 'loop1.corp.example', type: CNAME, ttl: 60, domain: 'loop2.corp.example' },
    { name: 'loop2.corp.example', type: CNAME, ttl: 60, domain: 'loop1.corp.example' },
  ] as ResponseRecord[]).kind, 'none', 'a CNAME cycle ends');
});
