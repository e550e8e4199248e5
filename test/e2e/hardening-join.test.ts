import t from 'tap';
import { startDaemon, type RunningDaemon } from '../helpers/daemon';
import { encodeQuery } from '../helpers/wire';
import { questionOf, startResponder, udpAsk, type Responder } from '../helpers/hardening';

/**
 * Clients that use 0x20 letter case (RFC 5452 §9.1) or another class must get
 * their own question back, whether their query shared an upstream exchange with another client's
 * (concurrent identical queries from a host that is also the upstream's) or was answered from the
 * cache. A query in another class (HS) must never get an IN question or answer.
 */
let daemon: RunningDaemon;
let upstream: Responder;

t.before(async () => {
  // Answers after 300 ms, so concurrent queries overlap; A 192.0.2.1 in class IN only.
  upstream = await startResponder((m, send) => {
    const { question } = questionOf(m);
    const qclass = question.readUInt16BE(question.length - 2);
    const header = Buffer.from(m.subarray(0, 12));
    header.writeUInt16BE(0x8180, 2);
    header.writeUInt16BE(qclass === 1 ? 1 : 0, 6);
    header.writeUInt16BE(0, 10);
    const rr = qclass === 1 ? Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 1, 0x2c, 0, 4, 192, 0, 2, 1]) : Buffer.alloc(0);
    setTimeout(() => send(Buffer.concat([header, question, rr])), 300);
  });
  daemon = await startDaemon(`
region: cn-hangzhou
listen: { dns: ["127.0.0.1:0"], http: "127.0.0.1:0" }
access: { allow: ["127.0.0.0/8"] }
upstream: { servers: ["127.0.0.1:${upstream.port}"], timeout: 2s }
state_dir: false
`);
});
t.teardown(async () => {
  await daemon?.stop();
  await upstream?.close();
});

function questionBytes(msg: Buffer): Buffer {
  return questionOf(msg).question;
}

t.test('concurrent queries sharing one exchange each get their own question', async (t) => {
  const queries = [
    encodeQuery('Join.Example.Com', { id: 1 }),
    encodeQuery('jOIN.eXAMPLE.cOM', { id: 2 }),
    encodeQuery('JOIN.EXAMPLE.COM', { id: 3 }),
    encodeQuery('join.example.com', { id: 4, cls: 4 }), // HESIOD (CHAOS is never forwarded at all)
  ];
  const replies = await Promise.all(queries.map((q) => udpAsk(daemon.dnsPort, q, 3000)));
  for (const [i, r] of replies.entries()) {
    t.ok(r, `query ${i + 1} answered`);
    if (!r) continue;
    t.same(questionBytes(r), questionBytes(queries[i]), `query ${i + 1}: its own question (case and class)`);
  }
  const hs = replies[3];
  t.equal(hs?.readUInt16BE(6), 0, 'the HS query got no IN answer');
});

t.test('a cached answer echoes the asking client\'s letter case', async (t) => {
  const first = encodeQuery('CaChE.example.com', { id: 10 });
  const second = encodeQuery('cAcHe.EXAMPLE.com', { id: 11 });
  const r1 = await udpAsk(daemon.dnsPort, first, 3000);
  const r2 = await udpAsk(daemon.dnsPort, second, 3000);
  t.ok(r1 && r2, 'both answered');
  t.same(questionBytes(r2 as Buffer), questionBytes(second), 'second (cached) answer carries the second client\'s question');
  t.equal((r2 as Buffer).readUInt16BE(6), 1, 'with the answer record');
});
