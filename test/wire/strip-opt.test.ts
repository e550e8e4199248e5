import t from 'tap';
import { Packet } from 'dns2';
import { scanResponse, type ResponseScan } from '../../src/wire/message-scan';
import { copyWithoutOpt, stripOpt } from '../../src/wire/strip-opt';
import { decode, ednsRecord, encodeResponse } from '../helpers/wire';

const A = Packet.TYPE.A;

function scan(buf: Buffer): ResponseScan {
  const s = scanResponse(buf);
  if (s === undefined) throw new Error('scan failed');
  return s;
}

const answers = [{ name: 'a.example', type: A, ttl: 60, address: '192.0.2.1' }];
const extra = [{ name: 'ns.example', type: A, ttl: 60, address: '192.0.2.53' }];

t.test('the OPT goes, the other records and ARCOUNT follow', async (t) => {
  const reply = encodeResponse({ qname: 'a.example', answers, additionals: extra, opt: { doFlag: true } });
  const s = scan(reply);
  t.ok(s.hasOpt);
  const out = stripOpt(reply, s);
  t.equal(out.length, reply.length - s.optLength);
  t.equal(out.readUInt16BE(10), 1, 'ARCOUNT one less');
  const p = decode(out);
  t.same(p.answers.map((r) => r.address), ['192.0.2.1']);
  t.same(p.additionals.map((r) => [r.name, r.type]), [['ns.example', A]], 'only the OPT removed');
  t.equal(scanResponse(out)?.hasOpt, false);
});

t.test('an OPT between other additional records is cut from the middle', async (t) => {
  const p = new Packet();
  Object.assign(p.header, { id: 7, qr: 1, rd: 1, ra: 1 });
  p.questions.push({ name: 'a.example', type: A, class: Packet.CLASS.IN } as Packet.Question);
  p.answers.push({ class: Packet.CLASS.IN, ...answers[0] } as Packet.Resource);
  p.additionals.push(ednsRecord({ udpPayloadSize: 1232 }));
  p.additionals.push({ class: Packet.CLASS.IN, ...extra[0] } as Packet.Resource);
  const reply = Buffer.from(p.toBuffer());
  const s = scan(reply);
  const out = stripOpt(reply, s);
  const back = decode(out);
  t.same(back.additionals.map((r) => r.address), ['192.0.2.53']);
  t.equal(out.readUInt16BE(10), 1);
});

t.test('without OPT: the message itself, or a view without trailing bytes', async (t) => {
  const reply = encodeResponse({ qname: 'a.example', answers, opt: false });
  t.equal(stripOpt(reply, scan(reply)), reply, 'no copy');
  const padded = Buffer.concat([reply, Buffer.from([1, 2, 3])]);
  const view = stripOpt(padded, scan(padded));
  t.same(view, reply, 'trailing bytes cut');
  t.equal(view.buffer, padded.buffer, 'a view, not a copy');
});

t.test('copyWithoutOpt writes into the buffer it is given', async (t) => {
  for (const opt of [{}, false] as const) {
    const reply = encodeResponse({ qname: 'a.example', answers, opt });
    const s = scan(reply);
    const into = Buffer.alloc(s.end - s.optLength);
    t.equal(copyWithoutOpt(reply, s, into), into);
    t.same(into, stripOpt(reply, s), `same bytes as stripOpt (opt: ${opt !== false})`);
  }
});
