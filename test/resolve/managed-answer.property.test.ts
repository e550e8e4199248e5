import t from 'tap';
import fc from 'fast-check';
import { parseQuery } from '../../src/wire/query';
import { buildManagedAnswer } from '../../src/resolve/managed-answer';
import { AnswerTable } from '../../src/resolve/table';
import { scanResponse } from '../../src/wire/message-scan';
import { decode, encodeQuery } from '../helpers/wire';

/**
 * BuildManagedAnswer for any managed name, query type, EDNS and IP set gives a
 * reply another codec decodes, with the right ID, AA, TTL and exactly the table's addresses.
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 2000);
const labelText = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?$/);
const name = fc.array(labelText, { minLength: 1, maxLength: 5 }).map((ls) => ls.join('.'));
const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.'));
const v6 = fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }).map((g) => g.map((x) => x.toString(16)).join(':'));

t.test('buildManagedAnswer: any name/type/EDNS/IP set → a decodable, correct answer', async (t) => {
  const seen: Record<string, number> = {};
  fc.assert(
    fc.property(
      name, fc.boolean(), fc.array(v4, { maxLength: 40 }), fc.array(v6, { maxLength: 12 }),
      fc.constantFrom(1, 28, 255, 15, 16, 6, 33, 65), fc.option(fc.record({ size: fc.integer({ min: 0, max: 65535 }), do: fc.boolean() })),
      fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.array(labelText, { maxLength: 3 }), fc.boolean(),
      (apex, wildcard, ipv4, ipv6, type, edns, id, ttl, sub, upper) => {
        const table = AnswerTable.build([{ id: 'ep', names: [wildcard ? `*.${apex}` : apex], ipv4, ipv6 }], 3);
        const qname = wildcard ? [...sub, 'x', apex].join('.') : apex;
        const parsed = parseQuery(encodeQuery(upper ? qname.toUpperCase() : qname, { id, type, edns: edns ?? false }));
        if (parsed.kind !== 'query') return true; // e.g. a name over 255 bytes: FORMERR elsewhere
        const match = table.lookup(parsed.qname);
        if (!match) throw new Error(`table does not match ${parsed.qname}`);
        const reply = buildManagedAnswer(parsed, match, ttl, table.version);
        const p = decode(reply);
        if (p.header.id !== id || p.header.qr !== 1 || p.header.aa !== 1) throw new Error('header');
        if (!scanResponse(reply)) throw new Error('scanResponse rejects it');
        const as = p.answers as { type: number; ttl: number; address?: string }[];
        if (as.some((a) => a.ttl !== ttl && a.type !== 6)) throw new Error('ttl');
        if (type === 1) {
          if (as.filter((a) => a.type === 1).length !== ipv4.length) throw new Error('A count');
          const got = as.map((a) => a.address).sort();
          if (JSON.stringify(got) !== JSON.stringify([...ipv4].sort())) throw new Error('A set');
        }
        if (type === 28 && as.filter((a) => a.type === 28).length !== ipv6.length) throw new Error('AAAA count');
        if (![1, 28, 255].includes(type) && as.length !== 0) throw new Error('other types: NODATA');
        if (as.length === 0 && (p.authorities as { type: number }[])[0]?.type !== 6 && type !== 255) throw new Error('NODATA without SOA');
        if (Boolean(edns) !== ((p.additionals as unknown[]).length === 1)) throw new Error('OPT presence');
        const k = `${type}:${as.length > 0 ? 'data' : 'nodata'}`;
        seen[k] = (seen[k] ?? 0) + 1;
        return true;
      },
    ),
    { numRuns: RUNS, seed: 61 },
  );
  t.ok(Object.keys(seen).length >= 8, 'answers and NODATA for many types were built');
  t.comment(`tried ${RUNS} tables/queries (0–40 A, 0–12 AAAA, wildcard or exact, ±EDNS, 8 types): ${JSON.stringify(seen)}`);
});
