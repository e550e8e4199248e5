import t from 'tap';
import fc from 'fast-check';
import { parseQuery, type Query } from '../../src/wire/query';
import { buildRcodeResponse, buildRejectResponse, truncateResponse, udpLimit } from '../../src/wire/response';
import { scanResponse } from '../../src/wire/message-scan';
import { decode } from '../helpers/wire';
import { input } from '../helpers/fuzz-inputs';

/**
 * Any input to the query parser gives a query, a reject (with a reply that
 * decodes) or a drop, never an exception; every reply builder turns any parsed query into a
 * message that another codec (dns2) and our own response scanner accept.
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 3000);

function checkReply(reply: Buffer, id: number): void {
  if (reply.length < 12) throw new Error('reply shorter than a header');
  if (reply.readUInt16BE(0) !== id) throw new Error('reply ID differs');
  if ((reply[2] & 0x80) === 0) throw new Error('QR not set');
  const p = decode(reply); // throws if dns2 cannot read it
  if (p.header.id !== id) throw new Error('dns2 reads another ID');
  if (!scanResponse(reply)) throw new Error('our own scanner rejects the reply');
}

t.test('parseQuery: any bytes → query, reject or drop; never throws', async (t) => {
  const kinds: Record<string, number> = {};
  fc.assert(
    fc.property(input, (buf) => {
      const r = parseQuery(buf);
      const k = r.kind === 'query' ? 'query' : `${r.kind}:${r.reason}`;
      kinds[k] = (kinds[k] ?? 0) + 1;
      if (r.kind === 'drop') return buf.length < 12 || (buf[2] & 0x80) !== 0 || buf.length > 4096;
      if (r.kind === 'reject') {
        // Any reject must still produce a reply that decodes, with the query's ID.
        const reply = buildRejectResponse(buf, r);
        if (reply.length < 12 || reply.readUInt16BE(0) !== r.id) return false;
        decode(reply);
        return true;
      }
      // A query: the question is inside the buffer and the name is within limits.
      return r.questionEnd <= buf.length && r.qname.length <= 255 && r.id === buf.readUInt16BE(0);
    }),
    { numRuns: RUNS, seed: 6 },
  );
  t.ok((kinds.query ?? 0) > RUNS / 20, `enough inputs parsed as queries to reach the builders (${kinds.query})`);
  t.ok(Object.keys(kinds).length >= 5, 'several outcomes were reached');
  t.comment(`tried ${RUNS} inputs (random bytes, structured hostile headers/names/OPTs, mutated dns2 queries): ${JSON.stringify(kinds)}`);
});

t.test('reply builders: every parsed query → a reply dns2 and scanResponse accept', async (t) => {
  let built = 0;
  fc.assert(
    fc.property(input, fc.integer({ min: 0, max: 23 }), fc.uint8Array({ maxLength: 300 }), (buf, rcode, junk) => {
      const r = parseQuery(buf);
      if (r.kind !== 'query') return true;
      const q: Query = r;
      checkReply(buildRcodeResponse(q, rcode & 0x0f), q.id);
      const rcodeReply = buildRcodeResponse(q, 2);
      const tc = truncateResponse(q, rcodeReply);
      checkReply(tc, q.id);
      if ((tc[2] & 0x02) === 0) throw new Error('TC not set');
      if (tc.length > udpLimit(q.edns)) throw new Error('truncated reply over the UDP limit');
      // Whatever bytes are passed as the "response", truncation yields a valid header + question.
      checkReply(truncateResponse(q, Buffer.from(junk)), q.id);
      built++;
      return true;
    }),
    { numRuns: RUNS, seed: 7 },
  );
  t.ok(built > 100, `checked ${built} parsed queries`);
  t.comment(`tried ${RUNS} inputs; ${built} parsed queries went through buildRcodeResponse, truncateResponse (real and junk responses): all decoded`);
});
