import t from 'tap';
import { CLASS_IN, RRType } from '../../../src/wire/constants';
import { encodeMessage, parseMessage } from '../../../src/fleet/codec/message';
import { serialOnlySoa } from '../../../src/fleet/codec/notify';
import { createLogger } from '../../../src/runtime/log';
import { staticEntryState, type EntryState } from '../../../src/privatelink/model';
import { TransferAcl } from '../../../src/fleet/primary/transfer-acl';
import { tsigAuthenticator } from '../../../src/fleet/primary/tsig-auth';
import { ZonePublisher } from '../../../src/fleet/primary/zone-publisher';
import { ZoneServer } from '../../../src/fleet/primary/zone-server';

// Transfer answers of a larger zone: AXFR-style IXFR answers carry the IXFR question, and the
// zone's messages are built as they are read.

function states(count: number): EntryState[] {
  return Array.from({ length: count }, (_, i) => staticEntryState({ kind: 'static', names: [`n${i}.bulk.example`], ipv4: [`10.0.${i >> 8}.${i & 255}`], ipv6: [] }));
}

function setup(count: number) {
  const publisher = new ZonePublisher({
    origin: 'privatelink.rpz',
    records: { ttl: 30, preferZones: [], onUnavailable: 'servfail' },
    journal: { maxChanges: 10, maxRecords: 1000 },
    serials: undefined,
    logger: createLogger('silent'),
    onNewSerial: () => {},
  });
  publisher.update(states(count), { fetchedAtMs: Date.now() });
  const server = new ZoneServer({
    publisher,
    acl: new TransferAcl({ networks: ['127.0.0.0/8'], keys: [] }),
    authenticate: tsigAuthenticator([]),
    observer: { served: () => {} },
    logger: createLogger('silent'),
  });
  return { publisher, server, serial: publisher.get('privatelink.rpz')!.zone.serial };
}

const client = { address: '127.0.0.1', port: 5353 };
const ask = (type: number, serial?: number): Buffer =>
  encodeMessage({ id: 99, flags: 0, question: { name: 'privatelink.rpz', type, class: CLASS_IN }, authorities: serial === undefined ? [] : [serialOnlySoa('privatelink.rpz', serial)] });

t.test('an IXFR the journal cannot answer gets the whole zone under the IXFR question (RFC 1995 §4)', async (t) => {
  const { server, serial } = setup(3000);
  const reply = server.handle(ask(RRType.IXFR, serial - 10), client, 'tcp');
  const ms = [...(reply as Iterable<Buffer>)].map((m) => parseMessage(m));
  t.ok(ms.length > 1, `several messages (${ms.length})`);
  t.same([...new Set(ms.flatMap((m) => m.questions.map((q) => q.type)))], [RRType.IXFR], 'every question is IXFR');
  t.equal(ms.reduce((n, m) => n + m.answers.length, 0), 3000 + 3, 'SOA, NS, 3,000 names, SOA');
  const axfr = [...(server.handle(ask(RRType.AXFR), client, 'tcp') as Iterable<Buffer>)].map((m) => parseMessage(m));
  t.same([...new Set(axfr.flatMap((m) => m.questions.map((q) => q.type)))], [RRType.AXFR], 'the shared AXFR messages keep the AXFR question');
});

t.test('the first transfer builds the zone as it is read, not all at once', async (t) => {
  const { server } = setup(3000);
  const first = (server.handle(ask(RRType.AXFR), client, 'tcp') as Iterable<Buffer>)[Symbol.iterator]();
  t.ok(parseMessage(first.next().value as Buffer).answers.length > 0, 'the first message is there');
  const cache = (server as unknown as { axfrCache: WeakMap<object, { builtCount: number }> }).axfrCache;
  const zone = (server as unknown as { options: { publisher: ZonePublisher } }).options.publisher.get('privatelink.rpz')!;
  t.equal(cache.get(zone)?.builtCount, 1, 'one message built for one message read');
  const rest = [...{ [Symbol.iterator]: () => first }];
  t.ok(rest.length >= 1, 'the rest follows');
  t.equal(cache.get(zone)?.builtCount, 1 + rest.length, 'and is built as it is read');
});

t.test('a name inside the zone is answered from its records', async (t) => {
  const { server } = setup(3000);
  const q = encodeMessage({ id: 5, flags: 0, question: { name: 'n2999.bulk.example.privatelink.rpz', type: RRType.A, class: CLASS_IN } });
  const m = parseMessage(server.handle(q, client, 'udp') as Buffer);
  t.same(m.answers.map((a) => [...a.rdata].join('.')), ['10.0.11.183']);
  const nx = encodeMessage({ id: 6, flags: 0, question: { name: 'n3000.bulk.example.privatelink.rpz', type: RRType.A, class: CLASS_IN } });
  t.equal(parseMessage(server.handle(nx, client, 'udp') as Buffer).rcode, 3, 'a name not in the zone: NXDOMAIN');
});
