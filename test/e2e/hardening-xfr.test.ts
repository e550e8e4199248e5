import t from 'tap';
import { startDaemon, type RunningDaemon } from '../helpers/daemon';
import { encodeQuery } from '../helpers/wire';
import { TcpDns, udpAsk } from '../helpers/hardening';

/**
 * AXFR/IXFR of a managed name must be REFUSED like every other name (the managed
 * table is no zone; fleet mode's zone service alone serves transfers, of the policy zone), not
 * NOERROR with a lone SOA. No zone service configured here.
 */
let daemon: RunningDaemon;

t.before(async () => {
  daemon = await startDaemon(`
region: cn-hangzhou
listen: { dns: ["127.0.0.1:0"], http: "127.0.0.1:0" }
access: { allow: ["127.0.0.0/8"] }
records: { entries: [ { names: ["registry.internal.example", "*.oss.internal.example"], addresses: ["10.0.0.5"] } ] }
state_dir: false
`);
});
t.teardown(() => daemon?.stop());

const AXFR = 252;
const IXFR = 251;

t.test('AXFR and IXFR are REFUSED for managed, wildcard and other names, over TCP and UDP', async (t) => {
  let id = 1;
  for (const name of ['registry.internal.example', 'bucket.oss.internal.example', 'internal.example', 'www.example.com']) {
    for (const type of [AXFR, IXFR]) {
      const c = await TcpDns.connect(daemon.dnsPort);
      c.send(encodeQuery(name, { id: id++, type, edns: false }));
      const [frame] = await c.waitFrames(1, 2000);
      c.destroy();
      t.ok(frame, `${name} ${type === AXFR ? 'AXFR' : 'IXFR'} over TCP answered`);
      if (!frame) continue;
      t.equal(frame[3] & 0x0f, 5, `${name} ${type === AXFR ? 'AXFR' : 'IXFR'}: REFUSED`);
      t.equal(frame.readUInt16BE(6) + frame.readUInt16BE(8), 0, `${name}: no records`);
      const u = await udpAsk(daemon.dnsPort, encodeQuery(name, { id: id++, type, edns: false }));
      t.equal(u && u[3] & 0x0f, 5, `${name} ${type === AXFR ? 'AXFR' : 'IXFR'} over UDP: REFUSED`);
    }
  }
});

/** An IXFR as clients send it: the client's SOA (serial 1) in the authority section. */
function ixfrWithSoa(name: string, id: number): Buffer {
  const q = encodeQuery(name, { id, type: IXFR, edns: false });
  q.writeUInt16BE(1, 8); // NSCOUNT
  const soa = Buffer.alloc(12 + 22);
  soa.writeUInt16BE(0xc00c, 0);
  soa.writeUInt16BE(6, 2);
  soa.writeUInt16BE(1, 4);
  soa.writeUInt16BE(22, 10);
  soa.writeUInt32BE(1, 14); // rdata: root mname, root rname, serial 1, four zero timers
  return Buffer.concat([q, soa]);
}

t.test('an IXFR carrying its SOA is REFUSED too, not FORMERR', async (t) => {
  for (const name of ['registry.internal.example', 'www.example.com']) {
    const c = await TcpDns.connect(daemon.dnsPort);
    c.send(ixfrWithSoa(name, 321));
    const [frame] = await c.waitFrames(1, 2000);
    c.destroy();
    t.ok(frame, `${name}: answered`);
    if (!frame) continue;
    t.equal(frame[3] & 0x0f, 5, `${name} IXFR with SOA: REFUSED`);
    t.equal(frame.readUInt16BE(0), 321, 'with the request ID');
    t.equal(frame.readUInt16BE(4), 1, 'and its question');
  }
});
