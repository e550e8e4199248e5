import t from 'tap';
import { writeFileSync } from 'node:fs';
import { startDaemon, type RunningDaemon } from '../helpers/daemon';
import { encodeQuery, decode } from '../helpers/wire';
import { encodeName, metric, metrics, startResponder, udpAsk, TcpDns, type Responder } from '../helpers/hardening';

/**
 * As an ordinary recursive upstream would do it: a corporate alias whose CNAME
 * chain ends in a managed name, followed by the upstream's public 100.64/10 address for that
 * name. The client must get our private address, never the upstream's; class ANY/CH questions for
 * a managed name must not be forwarded at all.
 */
const PUBLIC_V4 = [100, 103, 42, 233];
const PUBLIC_V6 = Buffer.from('20010db8000000000000000000000064', 'hex');

interface Rr {
  owner: string;
  type: number;
  data: Buffer;
  ttl?: number;
  /** Default: answer. */
  section?: 'authority' | 'additional';
}

/** Header + the query's own question + uncompressed records (what a recursive upstream would send). */
function reply(query: Buffer, records: Rr[]): Buffer {
  let off = 12;
  while (query[off] !== 0) off += query[off] + 1;
  const question = query.subarray(12, off + 5);
  const qclass = question.readUInt16BE(question.length - 2);
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2);
  header.writeUInt16BE(0x8180, 2);
  header.writeUInt16BE(1, 4);
  const inSection = (s: Rr['section']): Rr[] => records.filter((r) => r.section === s);
  header.writeUInt16BE(inSection(undefined).length, 6);
  header.writeUInt16BE(inSection('authority').length, 8);
  header.writeUInt16BE(inSection('additional').length, 10);
  const parts = [header, question];
  for (const r of [...inSection(undefined), ...inSection('authority'), ...inSection('additional')]) {
    const fixed = Buffer.alloc(10);
    fixed.writeUInt16BE(r.type, 0);
    fixed.writeUInt16BE(qclass === 255 ? 1 : qclass, 2);
    fixed.writeUInt32BE(r.ttl ?? 300, 4);
    fixed.writeUInt16BE(r.data.length, 8);
    parts.push(encodeName(r.owner), fixed, r.data);
  }
  return Buffer.concat(parts);
}

const cname = (owner: string, target: string): Rr => ({ owner, type: 5, data: encodeName(target) });
const a = (owner: string, ip = PUBLIC_V4): Rr => ({ owner, type: 1, data: Buffer.from(ip) });
const aaaa = (owner: string): Rr => ({ owner, type: 28, data: PUBLIC_V6 });

const CHAINS: Record<string, (q: Buffer, qtype: number) => Rr[]> = {
  'alias.corp.example': () => [cname('alias.corp.example', 'registry.internal.example'), a('registry.internal.example')],
  'alias6.corp.example': () => [cname('alias6.corp.example', 'registry.internal.example'), aaaa('registry.internal.example')],
  'bucket.corp.example': () => [cname('bucket.corp.example', 'my-bucket.oss.internal.example'), a('my-bucket.oss.internal.example')],
  'two.corp.example': () => [
    cname('two.corp.example', 'one.corp.example'), cname('one.corp.example', 'registry.internal.example'), a('registry.internal.example'),
  ],
  // Records out of order: the chain is followed by name, not position.
  'shuffled.corp.example': () => [
    a('registry.internal.example'), cname('mid.corp.example', 'registry.internal.example'), cname('shuffled.corp.example', 'mid.corp.example'),
  ],
  'public.corp.example': () => [cname('public.corp.example', 'www.public.example'), a('www.public.example', [192, 0, 2, 80])],
  // No chain into a managed name, but managed names' public data in authority and additional.
  'glue.corp.example': () => [
    a('glue.corp.example', [192, 0, 2, 81]),
    { owner: 'corp.example', type: 2, data: encodeName('ns.corp.example'), section: 'authority' },
    { owner: 'registry.internal.example', type: 2, data: encodeName('ns.corp.example'), section: 'authority' },
    { ...a('ns.corp.example', [192, 0, 2, 53]), section: 'additional' },
    { ...a('registry.internal.example'), section: 'additional' },
    { ...aaaa('my-bucket.oss.internal.example'), section: 'additional' },
  ],
  'registry.internal.example': () => [a('registry.internal.example')],
  'late.corp.example': () => [cname('late.corp.example', 'later.internal.example'), a('later.internal.example')],
};

let daemon: RunningDaemon;
let upstream: Responder;
const asked: string[] = [];

t.before(async () => {
  upstream = await startResponder((m, send) => {
    const labels: string[] = [];
    let off = 12;
    while (m[off] !== 0) {
      labels.push(m.subarray(off + 1, off + 1 + m[off]).toString('latin1'));
      off += m[off] + 1;
    }
    const name = labels.join('.').toLowerCase();
    asked.push(`${name}/${m.readUInt16BE(off + 3)}`);
    if (name === 'loop.corp.example') {
      // A CNAME whose RDATA is a compression pointer to itself.
      const base = reply(m, [{ owner: name, type: 5, data: Buffer.from([0xc0, 0]) }]);
      base.writeUInt16BE(0xc000 | (base.length - 2), base.length - 2);
      send(base);
      return;
    }
    const make = CHAINS[name];
    send(reply(m, make ? make(m, m.readUInt16BE(off + 1)) : []));
  }, 0, { tcp: true });
  daemon = await startDaemon(`
region: cn-hangzhou
listen: { dns: ["127.0.0.1:0"], http: "127.0.0.1:0" }
access: { allow: ["127.0.0.0/8"] }
upstream: { servers: ["127.0.0.1:${upstream.port}"], timeout: 1s }
records:
  ttl: 42
  entries:
    - names: ["registry.internal.example", "*.oss.internal.example"]
      addresses: ["10.0.0.5", "fd00::5"]
state_dir: false
`);
});
t.teardown(async () => {
  await daemon?.stop();
  await upstream?.close();
});

async function ask(name: string, type = 1, cls = 1): Promise<ReturnType<typeof decode>> {
  const r = await udpAsk(daemon.dnsPort, encodeQuery(name, { type, cls, id: 4321 }));
  if (!r) throw new Error(`no answer for ${name}`);
  return decode(r);
}

function addresses(p: ReturnType<typeof decode>): string[] {
  return [...p.answers, ...p.authorities, ...p.additionals].filter((r) => r.type === 1 || r.type === 28).map((r) => (r as { address: string }).address);
}

t.test('a CNAME chain into a managed name is answered from the table', async (t) => {
  const before = metric(await metrics(daemon.httpPort as number), 'privatelink_dns_cname_rewrites_total');
  const cases: [string, number, string, number][] = [
    ['alias.corp.example', 1, '10.0.0.5', 1],
    ['alias6.corp.example', 28, 'fd00::5', 1],
    ['bucket.corp.example', 1, '10.0.0.5', 1],
    ['two.corp.example', 1, '10.0.0.5', 2],
    ['shuffled.corp.example', 1, '10.0.0.5', 2],
  ];
  for (const [name, type, want, hops] of cases) {
    for (const round of [1, 2]) {
      const p = await ask(name, type);
      const addrs = addresses(p);
      t.same(addrs, [want], `${name} (${round === 1 ? 'first' : 'second, not from a cache'}): only our address, no 100.x`);
      t.notOk(addrs.some((x) => x.startsWith('100.') || x.startsWith('2001:db8')), `${name}: no public address`);
      const cnames = p.answers.filter((r) => r.type === 5);
      t.equal(cnames.length, hops, `${name}: the ${hops} CNAME(s) up to the managed name are kept`);
      const final = p.answers.find((r) => r.type === type);
      t.equal(final?.ttl, 42, `${name}: our TTL on the managed records`);
      t.equal(p.header.rcode, 0, `${name}: NOERROR`);
    }
  }
  const after = metric(await metrics(daemon.httpPort as number), 'privatelink_dns_cname_rewrites_total');
  t.equal(after - before, cases.length * 2, 'privatelink_dns_cname_rewrites_total counts each rewritten answer');
});

t.test('the same over TCP', async (t) => {
  const c = await TcpDns.connect(daemon.dnsPort);
  c.send(encodeQuery('two.corp.example', { id: 9 }));
  const [frame] = await c.waitFrames(1);
  c.destroy();
  t.ok(frame, 'answered');
  t.same(addresses(decode(frame)), ['10.0.0.5']);
});

t.test('chains that never reach a managed name are relayed as they came', async (t) => {
  const p = await ask('public.corp.example');
  t.same(addresses(p), ['192.0.2.80']);
  t.equal(p.answers.filter((r) => r.type === 5).length, 1);
});

t.test('records of managed names in authority and additional of a relayed answer are stripped', async (t) => {
  for (const round of ['first', 'second (from the cache)']) {
    const p = await ask('glue.corp.example');
    t.same(addresses(p), ['192.0.2.81', '192.0.2.53'], `${round}: the answer and the glue of a name we do not manage, no 100.x / 2001:db8`);
    t.same(p.authorities.map((r) => r.name), ['corp.example'], `${round}: the NS of a managed name is gone from authority`);
    t.equal(p.header.rcode, 0);
  }
  const c = await TcpDns.connect(daemon.dnsPort);
  c.send(encodeQuery('glue.corp.example', { id: 10 }));
  const [frame] = await c.waitFrames(1);
  c.destroy();
  t.same(frame ? addresses(decode(frame)) : [], ['192.0.2.81', '192.0.2.53'], 'the same over TCP');
});

t.test('a managed name in class ANY, CH, HS or NONE is never forwarded', async (t) => {
  for (const cls of [255, 3, 4, 254]) {
    asked.length = 0;
    const p = await ask('registry.internal.example', 1, cls);
    t.same(asked, [], `class ${cls}: upstream not asked`);
    t.notOk(addresses(p).some((x) => x.startsWith('100.')), `class ${cls}: no public address`);
    if (cls === 255) t.same(addresses(p), ['10.0.0.5'], 'class ANY: our address');
    else t.equal(p.header.rcode, 5, `class ${cls}: REFUSED`);
  }
});

t.test('a compression loop inside CNAME RDATA is not relayed', async (t) => {
  const r = await udpAsk(daemon.dnsPort, encodeQuery('loop.corp.example', { id: 77 }));
  t.ok(r, 'answered');
  t.equal((r as Buffer)[3] & 0x0f, 2, 'SERVFAIL');
  t.equal((r as Buffer).readUInt16BE(6), 0, 'no answer records relayed');
});

t.test('a name that becomes managed is not answered from a chain cached before', async (t) => {
  const config = (entries: string): string => `
region: cn-hangzhou
listen: { dns: ["127.0.0.1:0"], http: false }
access: { allow: ["127.0.0.0/8"] }
upstream: { servers: ["127.0.0.1:${upstream.port}"], timeout: 1s }
records: { entries: [ ${entries} ] }
state_dir: false
`;
  const d = await startDaemon(config('{ names: ["unrelated.internal.example"], addresses: ["10.0.0.9"] }'));
  t.teardown(() => d.stop());
  const askD = async (): Promise<string[]> => {
    const r = await udpAsk(d.dnsPort, encodeQuery('late.corp.example', { id: 5 }));
    return r ? addresses(decode(r)) : [];
  };
  t.same(await askD(), ['100.103.42.233'], 'before: not managed, the upstream\'s chain is relayed (and cached for 300 s)');
  writeFileSync(d.configPath, config('{ names: ["unrelated.internal.example"], addresses: ["10.0.0.9"] }, { names: ["later.internal.example"], addresses: ["10.0.0.6"] }'));
  d.proc.kill('SIGHUP');
  await d.waitForLog((l) => l.msg === 'configuration reloaded', 5000);
  t.same(await askD(), ['10.0.0.6'], 'after the name became managed: our address, not the cached public one');
});
