import t from 'tap';
import { Packet } from 'dns2';
import { scanResponse } from '../../src/wire/message-scan';
import { stripManagedRecords } from '../../src/resolve/strip-managed-records';
import { AnswerTable } from '../../src/resolve/table';
import { parseMessage } from '../../src/fleet/codec/message';
import { encodeResponse, type ResponseRecord } from '../helpers/wire';

/** Records owned by managed names in authority/additional of a relayed answer (dns2 compresses names). */
const table = AnswerTable.build([
  { id: 'ep-1', names: ['registry.internal.example', '*.oss.internal.example'], ipv4: ['10.0.0.5'], ipv6: [] },
], 7);
const { A, NS, SOA, MX } = Packet.TYPE;

function strip(spec: { answers?: ResponseRecord[]; authorities?: ResponseRecord[]; additionals?: ResponseRecord[]; opt?: boolean; rcode?: number }) {
  const reply = encodeResponse({ id: 0x2222, qname: 'www.corp.example', qtype: A, ...spec, opt: spec.opt ? { udpPayloadSize: 1232 } : undefined });
  const scan = scanResponse(reply);
  if (!scan) throw new Error('scan failed');
  return { reply, result: stripManagedRecords(reply, scan, table) };
}

t.test('nothing owned by a managed name: undefined, nothing copied', async (t) => {
  const { result } = strip({
    answers: [{ name: 'www.corp.example', type: A, ttl: 60, address: '192.0.2.1' }] as ResponseRecord[],
    authorities: [{ name: 'corp.example', type: NS, ttl: 60, ns: 'ns.corp.example' }] as ResponseRecord[],
    additionals: [{ name: 'ns.corp.example', type: A, ttl: 60, address: '192.0.2.53' }] as ResponseRecord[],
    opt: true,
  });
  t.equal(result, undefined);
});

t.test('glue, NS and SOA owned by managed names are stripped; the rest kept, readable, with the OPT', async (t) => {
  const { reply, result } = strip({
    answers: [{ name: 'www.corp.example', type: A, ttl: 60, address: '192.0.2.1' }] as ResponseRecord[],
    authorities: [
      { name: 'registry.internal.example', type: NS, ttl: 60, ns: 'ns.corp.example' },
      { name: 'corp.example', type: NS, ttl: 60, ns: 'ns.registry.internal.example' },
      { name: 'b.oss.internal.example', type: SOA, ttl: 60, primary: 'ns.corp.example', admin: 'h.corp.example', serial: 1, refresh: 2, retry: 3, expiration: 4, minimum: 5 },
    ] as ResponseRecord[],
    additionals: [
      { name: 'registry.internal.example', type: A, ttl: 60, address: '100.103.42.233' },
      { name: 'ns.corp.example', type: A, ttl: 60, address: '192.0.2.53' },
      { name: 'x.oss.internal.example', type: A, ttl: 60, address: '100.103.1.1' },
      { name: 'corp.example', type: MX, ttl: 60, priority: 10, exchange: 'mail.corp.example' },
    ] as ResponseRecord[],
    opt: true,
  });
  t.not(result, undefined);
  t.not(result, 'malformed');
  if (result === undefined || result === 'malformed') return;
  const m = parseMessage(result.reply);
  t.same(m.answers.map((r) => r.name), ['www.corp.example'], 'the answer untouched');
  t.same(m.authorities.map((r) => `${r.name}/${r.type}`), [`corp.example/${NS}`], 'authority: only the record of a name we do not manage');
  t.same(m.additionals.map((r) => `${r.name}/${r.type}`), [`ns.corp.example/${A}`, `corp.example/${MX}`, `/${Packet.TYPE.EDNS}`], 'additional: the glue of managed names gone, the OPT kept');
  t.equal(result.scan.nscount, 1);
  t.equal(result.scan.arcount, 3);
  t.ok(result.scan.hasOpt, 'the new scan sees the OPT');
  t.equal(result.reply.readUInt16BE(0), 0x2222);
  t.ok(result.reply.length < reply.length);
  // The kept NS's RDATA and the MX exchange were compressed against bytes that are gone: expanded.
  const nsTarget = decodeName(m.authorities[0]?.rdata as Buffer);
  t.equal(nsTarget, 'ns.registry.internal.example', 'a kept name whose pointer led into dropped bytes still reads right');
  t.notOk(result.reply.includes(Buffer.from([100, 103, 42, 233])), 'the public address of a managed name is not in the answer');
});

t.test('a record that does not parse: malformed', async (t) => {
  const { reply } = strip({ authorities: [{ name: 'registry.internal.example', type: NS, ttl: 60, ns: 'ns.corp.example' }] as ResponseRecord[] });
  const scan = scanResponse(reply);
  if (!scan) throw new Error('scan failed');
  const cut = Buffer.from(reply.subarray(0, reply.length - 3));
  t.equal(stripManagedRecords(cut, { ...scan, end: cut.length + 3 }, table), 'malformed');
});

function decodeName(wire: Buffer): string {
  const labels: string[] = [];
  for (let i = 0; wire[i] !== 0; i += 1 + (wire[i] as number)) labels.push(wire.subarray(i + 1, i + 1 + (wire[i] as number)).toString());
  return labels.join('.');
}
