import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { randomInt } from 'node:crypto';
import { startDaemon, type RunningDaemon } from '../helpers/daemon';
import { finWait1, metrics, metric, rssKb, sleep, udpAsk, TcpDns } from '../helpers/hardening';
import { startUpstream, WRONG_SECRET } from '../helpers/fleet';
import { BULK_ZONE, FLEET_KEY, bulkAddresses, bulkAxfrRecords, bulkHubYaml, bulkName, collectTransfer, type CollectedTransfer } from '../helpers/bulk-zone';
import { CLASS_ANY, CLASS_IN, OPCODE_NOTIFY, RCODE_NOTAUTH, RCode, RRType, TYPE_TSIG } from '../../src/wire/constants';
import { encodeMessage, parseMessage, type DnsMessage, type WireRecord } from '../../src/fleet/codec/message';
import { nameToWire } from '../../src/wire/name-codec';
import { buildNotify, serialOnlySoa } from '../../src/fleet/codec/notify';
import { readTsig, signRequest, TsigStreamVerifier, type TsigKey } from '../../src/fleet/codec/tsig';
import { wireToSoa } from '../../src/fleet/codec/zone-record-wire';
import { transferZone } from '../../src/fleet/secondary/xfr-client';

/**
 * The transfer path of a real hub under abuse and load: malformed TSIG, broken TCP framing,
 * stalled and vanishing readers, bad IXFR requests, NOTIFY to a hub, 1,000 concurrent SOA checks
 * and 100 concurrent AXFRs of a 10,000-name zone. Throughout, a side loop asks the hub a managed
 * name over UDP and records how long each answer took: none may be lost.
 */

const NAMES = 10_000;
const RECORDS = bulkAxfrRecords(NAMES);
/**
 * The hub's TCP idle timeout, also the progress deadline of a transfer whose reader takes nothing.
 * Long enough that the test's own readers (one process parsing and verifying 100 transfers at
 * once on a busy 2-core machine) never stall that long; stalled readers still show it.
 */
const IDLE_TIMEOUT_MS = 8000;
const SOA_CHECKS = 1000;
const AXFRS = 100;
/** Loopback sources: the hub caps TCP connections per client address at 64. */
const sources = (n: number): string[] => Array.from({ length: n }, (_, i) => `127.0.0.${i + 2}`);

const wrongKey: TsigKey = { ...FLEET_KEY, secret: Buffer.from(WRONG_SECRET, 'base64') };

function plainRequest(type: number, opts: { id?: number; name?: string; authorities?: WireRecord[] } = {}): Buffer {
  return encodeMessage({ id: opts.id ?? randomInt(0, 0x10000), flags: 0, question: { name: opts.name ?? BULK_ZONE, type, class: CLASS_IN }, authorities: opts.authorities ?? [] });
}

function signed(type: number, key = FLEET_KEY, opts: { nowSec?: number; authorities?: WireRecord[] } = {}): { message: Buffer; mac: Buffer } {
  return signRequest(plainRequest(type, opts), key, opts.nowSec === undefined ? undefined : { nowSec: opts.nowSec });
}

interface TsigFields {
  keyName?: string;
  algorithm?: string;
  timeSigned?: number;
  mac?: Buffer;
  /** The MAC size field, when it should lie. */
  macSize?: number;
  /** Added to the record's RDLENGTH, when it should lie. */
  rdlengthDelta?: number;
  tsigClass?: number;
  /** Bytes after the TSIG record. */
  trailing?: Buffer;
}

/** `msg` with a hand-made TSIG record appended (ARCOUNT + 1): every field can lie. */
function withTsig(msg: Buffer, f: TsigFields): Buffer {
  const alg = nameToWire(f.algorithm ?? 'hmac-sha256');
  const mac = f.mac ?? Buffer.alloc(32, 1);
  const fixed = Buffer.alloc(10);
  fixed.writeUIntBE(f.timeSigned ?? Math.floor(Date.now() / 1000), 0, 6);
  fixed.writeUInt16BE(300, 6);
  fixed.writeUInt16BE(f.macSize ?? mac.length, 8);
  const tail = Buffer.alloc(6);
  tail.writeUInt16BE(msg.readUInt16BE(0), 0);
  const rdata = Buffer.concat([alg, fixed, mac, tail]);
  const head = Buffer.alloc(10);
  head.writeUInt16BE(TYPE_TSIG, 0);
  head.writeUInt16BE(f.tsigClass ?? CLASS_ANY, 2);
  head.writeUInt16BE(rdata.length + (f.rdlengthDelta ?? 0), 8);
  const out = Buffer.concat([msg, nameToWire(f.keyName ?? 'fleet'), head, rdata, f.trailing ?? Buffer.alloc(0)]);
  out.writeUInt16BE(msg.readUInt16BE(10) + 1, 10);
  return out;
}

/** The algorithm name's first length byte turned into a compression pointer (names in TSIG rdata are never compressed). */
function pointerInAlgorithm(plain: Buffer): Buffer {
  const msg = withTsig(plain, {});
  msg[plain.length + nameToWire('fleet').length + 10] = 0xc0;
  return msg;
}

/** One request over a fresh TCP connection; the first answer, or undefined (no answer within `timeoutMs`). */
async function askTcp(port: number, msg: Buffer, localAddress = '127.0.0.2', timeoutMs = 3000): Promise<DnsMessage | undefined> {
  const c = await TcpDns.connect(port, localAddress);
  try {
    c.send(msg);
    const frames = await c.waitFrames(1, timeoutMs);
    return frames[0] ? parseMessage(frames[0]) : undefined;
  } finally {
    c.destroy();
  }
}

const tsigErrorOf = (m: DnsMessage): number | undefined => {
  try {
    return readTsig(m)?.error;
  } catch {
    return undefined;
  }
};

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/**
 * Plain UDP queries for managed names every `intervalMs` from a separate process (the test's own
 * load must not count as the hub's latency), each timed; bounded in count and time.
 */
class SideLoop {
  readonly latenciesMs: number[] = [];
  lost = 0;
  wrong = 0;
  sent = 0;
  private readonly proc: ChildProcess;
  private readonly ended: Promise<void>;

  constructor(port: number, intervalMs = 20, maxQueries = 40_000, maxMs = 600_000) {
    this.proc = spawn(process.execPath, [join(__dirname, '..', 'helpers', 'udp-latency-probe.cjs'), ...[port, NAMES, intervalMs, maxQueries, maxMs].map(String)], { stdio: ['pipe', 'pipe', 'inherit'] });
    let partial = '';
    this.ended = new Promise((resolve) => {
      this.proc.stdout?.setEncoding('utf8');
      this.proc.stdout?.on('data', (chunk: string) => {
        partial += chunk;
        for (let nl = partial.indexOf('\n'); nl >= 0; nl = partial.indexOf('\n')) {
          this.line(partial.slice(0, nl));
          partial = partial.slice(nl + 1);
        }
      });
      this.proc.once('exit', () => resolve());
    });
  }

  private line(line: string): void {
    const [kind, i, ms, ips] = line.split(' ');
    if (kind === 'end') return;
    this.sent++;
    if (kind === 'lost') {
      this.lost++;
      return;
    }
    this.latenciesMs.push(Number(ms));
    if (ips !== [...bulkAddresses(Number(i))].sort().join(',')) this.wrong++;
  }

  /** Latencies since `from` (an index into latenciesMs), summarised. */
  summary(from = 0): { count: number; p50: number; p99: number; max: number } {
    const s = this.latenciesMs.slice(from).sort((a, b) => a - b);
    return { count: s.length, p50: percentile(s, 50), p99: percentile(s, 99), max: s.length ? s[s.length - 1] : NaN };
  }

  async stop(): Promise<void> {
    this.proc.stdin?.end();
    const killer = setTimeout(() => this.proc.kill('SIGKILL'), 15_000);
    await this.ended;
    clearTimeout(killer);
  }
}

const fmt = (s: { count: number; p50: number; p99: number; max: number }): string =>
  `${s.count} queries: p50 ${s.p50.toFixed(2)} ms, p99 ${s.p99.toFixed(2)} ms, max ${s.max.toFixed(2)} ms`;

t.test('the transfer path of a hub with a 10,000-name zone, under abuse and load', async (t) => {
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  // Idle timeout short so a silent client is seen cut off in seconds; the connection cap above the
  // 1,000 concurrent SOA checks so the test measures the hub, not its default cap.
  const yaml = bulkHubYaml({ count: NAMES, upstreamPort: upstream.port, limits: [`tcp_idle_timeout: ${IDLE_TIMEOUT_MS / 1000}s`, 'tcp_max_connections: 1200'] });
  const hub: RunningDaemon = await startDaemon(yaml, { timeoutMs: 60_000 });
  t.teardown(() => hub.stop());
  const published = await hub.waitForLog((l) => l.msg === 'policy zone published' && l.zone === BULK_ZONE);
  const serial = Number(published.serial);
  t.equal(published.records, RECORDS - 1, 'the hub published every name');
  const pid = hub.proc.pid as number;
  const rssStartKb = rssKb(pid);

  const side = new SideLoop(hub.dnsPort);
  t.teardown(() => side.stop());
  const phase = async (name: string, body: () => Promise<void>): Promise<void> => {
    const from = side.latenciesMs.length;
    t.comment(`--- ${name}`);
    await body();
    await sleep(200);
    const m = await metrics(hub.httpPort as number);
    const loopMax = metric(m, 'privatelink_dns_event_loop_delay_seconds', 'quantile="1"') * 1000;
    t.comment(`[${name}] side-loop UDP latency: ${fmt(side.summary(from))}; hub event-loop delay max since last scrape ${loopMax.toFixed(1)} ms; RSS ${(rssKb(pid) / 1024).toFixed(1)} MB`);
  };

  await phase('malformed TSIG gets FORMERR or NOTAUTH with the right error, and never zone data', async () => {
    const port = hub.dnsPort;
    const plain = plainRequest(RRType.AXFR, { id: 4242 });
    const goodPlain = plainRequest(RRType.AXFR, { id: 4243 });
    const good = signRequest(goodPlain, FLEET_KEY);
    const goodTsig = readTsig(parseMessage(good.message));
    const cases: { name: string; msg: Buffer; rcode: number; tsigError?: number }[] = [
      { name: 'signed with a wrong secret', msg: signed(RRType.AXFR, wrongKey).message, rcode: RCODE_NOTAUTH, tsigError: 16 },
      { name: 'an unknown key name', msg: signed(RRType.AXFR, { ...FLEET_KEY, name: 'intruder' }).message, rcode: RCODE_NOTAUTH, tsigError: 17 },
      { name: 'an unknown algorithm', msg: withTsig(plain, { algorithm: 'hmac-md5.sig-alg.reg.int', mac: Buffer.alloc(16, 2) }), rcode: RCODE_NOTAUTH, tsigError: 17 },
      { name: 'an all-zero MAC of the right length', msg: withTsig(plain, { mac: Buffer.alloc(32) }), rcode: RCODE_NOTAUTH, tsigError: 16 },
      // RFC 8945 §5.2.2.1/§5.2.4: 16 bytes is the RFC floor for hmac-sha256 but under our minimum (the full 32): BADTRUNC.
      { name: 'the right MAC truncated to 16 bytes', msg: withTsig(goodPlain, { mac: goodTsig!.mac.subarray(0, 16), timeSigned: goodTsig!.timeSigned }), rcode: RCODE_NOTAUTH, tsigError: 22 },
      { name: 'a wrong MAC of 16 bytes', msg: withTsig(goodPlain, { mac: Buffer.alloc(16, 7), timeSigned: goodTsig!.timeSigned }), rcode: RCODE_NOTAUTH, tsigError: 16 },
      { name: 'the right MAC truncated to 8 bytes (under the RFC floor)', msg: withTsig(goodPlain, { mac: goodTsig!.mac.subarray(0, 8), timeSigned: goodTsig!.timeSigned }), rcode: RCode.FORMERR },
      { name: 'an empty MAC', msg: withTsig(plain, { mac: Buffer.alloc(0) }), rcode: RCode.FORMERR },
      { name: 'a MAC size larger than the rdata', msg: withTsig(plain, { macSize: 2000 }), rcode: RCode.FORMERR },
      { name: 'an rdata length shorter than the record', msg: withTsig(plain, { rdlengthDelta: -7 }), rcode: RCode.FORMERR },
      { name: 'an rdata length past the message', msg: withTsig(plain, { rdlengthDelta: 40 }), rcode: RCode.FORMERR },
      { name: 'an algorithm name with a compression pointer', msg: pointerInAlgorithm(plain), rcode: RCode.FORMERR },
      { name: 'class IN instead of ANY', msg: withTsig(plain, { tsigClass: CLASS_IN }), rcode: RCode.FORMERR },
      { name: 'garbage after the TSIG record', msg: Buffer.concat([good.message, Buffer.from('garbage')]), rcode: RCode.FORMERR },
      { name: 'a record after the TSIG record', msg: withTsig(plain, { trailing: Buffer.from([0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4]) }), rcode: RCode.FORMERR },
    ];
    for (const c of cases) {
      const m = await askTcp(port, c.msg);
      if (!t.ok(m, `${c.name}: answered`)) continue;
      t.equal(m!.rcode, c.rcode, `${c.name}: rcode ${c.rcode}`);
      t.equal(m!.answers.length, 0, `${c.name}: no zone data`);
      if (c.tsigError !== undefined) t.equal(tsigErrorOf(m!), c.tsigError, `${c.name}: TSIG error ${c.tsigError}`);
    }

    // Signed an hour ago: NOTAUTH/BADTIME, signed with the request's MAC, our clock in Other Data.
    const old = signed(RRType.AXFR, FLEET_KEY, { nowSec: Math.floor(Date.now() / 1000) - 3600 });
    const late = await askTcp(port, old.message);
    t.equal(late?.rcode, RCODE_NOTAUTH, 'time far off: NOTAUTH');
    const lateTsig = late ? readTsig(late) : undefined;
    t.equal(lateTsig?.error, 18, 'time far off: BADTIME');
    t.equal(lateTsig?.mac.length, 32, 'the BADTIME answer is signed');
    t.ok(lateTsig && Math.abs(lateTsig.otherData.readUIntBE(0, 6) - Date.now() / 1000) < 30, 'its Other Data holds the hub clock');
    t.equal(late?.answers.length, 0, 'time far off: no zone data');

    // Unsigned from an address outside transfer.allow: REFUSED.
    const refused = await askTcp(port, plainRequest(RRType.AXFR));
    t.equal(refused?.rcode, RCode.REFUSED, 'unsigned AXFR from outside allow: REFUSED');

    // 300 random single-byte corruptions of a signed AXFR request (header counts spared): every
    // answer either carries no records or is a whole transfer that verifies with the key.
    let leaked = 0;
    let answered = 0;
    for (let round = 0; round < 15; round++) {
      await Promise.all(Array.from({ length: 20 }, async () => {
        const req = signed(RRType.AXFR);
        const bad = Buffer.from(req.message);
        const at = randomInt(12, bad.length);
        bad[at] ^= randomInt(1, 256);
        const c = await TcpDns.connect(port, '127.0.0.3');
        try {
          c.send(bad);
          const frames = await c.waitFrames(1, 1500);
          if (!frames[0]) return;
          answered++;
          const m = parseMessage(frames[0]);
          if (m.answers.length === 0) return;
          const v = new TsigStreamVerifier(FLEET_KEY, req.mac);
          if (!v.verify(frames[0], m).ok) leaked++;
        } finally {
          c.destroy();
        }
      }));
    }
    t.equal(leaked, 0, `no corrupted request got unauthenticated zone data (${answered} of 300 answered)`);

    // The control: a good signature from the same address gets the zone.
    const ok = await collectTransfer(port, good.message, { localAddress: '127.0.0.2', key: FLEET_KEY, requestMac: good.mac });
    t.ok(ok.complete && ok.tsigOk, 'a good signature gets a whole, verified transfer');
  });

  await phase('split, merged, truncated and lying TCP frames', async () => {
    const port = hub.dnsPort;
    const soaOf = (m: DnsMessage | undefined): number | undefined => {
      const r = m?.answers.find((a) => a.type === RRType.SOA);
      return r ? wireToSoa(r)?.soa.serial : undefined;
    };

    // One signed SOA query a byte at a time.
    const q = signed(RRType.SOA);
    const framed = Buffer.concat([Buffer.from([q.message.length >> 8, q.message.length & 255]), q.message]);
    const slow = await TcpDns.connect(port, '127.0.0.2');
    for (const b of framed) {
      slow.socket.write(Buffer.from([b]));
      await sleep(2);
    }
    const slowFrames = await slow.waitFrames(1, 3000);
    slow.destroy();
    t.equal(slowFrames[0] ? soaOf(parseMessage(slowFrames[0])) : undefined, serial, 'a query sent byte by byte is answered');

    // Two queries and a piece of a third in one write, the rest later.
    const [a, b, c] = [signed(RRType.SOA), signed(RRType.SOA), signed(RRType.SOA)].map((s) => Buffer.concat([Buffer.from([s.message.length >> 8, s.message.length & 255]), s.message]));
    const merged = await TcpDns.connect(port, '127.0.0.2');
    merged.socket.write(Buffer.concat([a, b, c.subarray(0, 5)]));
    await merged.waitFrames(2, 3000);
    t.equal(merged.frames.length, 2, 'two whole frames in one write: two answers');
    merged.socket.write(c.subarray(5));
    await merged.waitFrames(3, 3000);
    t.equal(merged.frames.length, 3, 'the rest of the third frame completes it');
    merged.destroy();

    // Queries, then FIN (the client shuts down writing): every answer still comes, then our FIN.
    const half = await TcpDns.connect(port, '127.0.0.2');
    const halfReq = signed(RRType.AXFR);
    half.send(halfReq.message);
    half.send(signed(RRType.SOA).message);
    half.socket.end();
    t.ok(await half.waitClosed(30_000), 'a half-closed client: the hub closes once it has answered');
    const halfMsgs = half.frames.map((f) => parseMessage(f));
    const halfRecords = halfMsgs.filter((m) => m.questions[0]?.type === RRType.AXFR).reduce((n, m) => n + m.answers.length, 0);
    t.equal(halfRecords, RECORDS, 'and its AXFR came whole');
    t.equal(halfMsgs.filter((m) => m.questions[0]?.type === RRType.SOA).length, 1, 'and so did the SOA query sent after it');

    // A frame cut short, then the connection closed: nothing to answer, nothing broken.
    const cut = await TcpDns.connect(port, '127.0.0.2');
    cut.socket.write(framed.subarray(0, 20));
    cut.socket.end();
    t.ok(await cut.waitClosed(3000), 'a truncated frame then FIN: the connection ends');

    // A header announcing more than is sent, then silence: cut off by the frame timer (a frame
    // started must complete within min(idle timeout, 3 s): RFC 7766 §10, server/listener-options.ts).
    const frameTimeoutMs = Math.min(IDLE_TIMEOUT_MS, 3000);
    const liar = await TcpDns.connect(port, '127.0.0.2');
    const liarStart = Date.now();
    liar.socket.write(Buffer.concat([Buffer.from([0x01, 0x00]), q.message.subarray(0, 30)]));
    t.ok(await liar.waitClosed(IDLE_TIMEOUT_MS + 5000), 'a frame that never completes: the hub hangs up');
    const liarMs = Date.now() - liarStart;
    t.ok(liarMs >= frameTimeoutMs - 500, `after the frame timeout (${liarMs} ms)`);
    t.equal(liar.frames.length, 0, 'and answers nothing');

    // A header announcing more than any query: closed at once, before the bytes arrive.
    const huge = await TcpDns.connect(port, '127.0.0.2');
    huge.socket.write(Buffer.from([0xff, 0xff, 0, 0, 0]));
    t.ok(await huge.waitClosed(1500), 'a 65,535-byte query frame: closed at once');

    // 20 readers that ask for the zone and then stop reading: the hub cuts each off (the transfer's
    // progress deadline, or the idle timer once the whole zone sits in the kernel) with a reset: a
    // FIN would queue behind the unread data and the socket would linger in FIN-WAIT-1 while the
    // client keeps its window shut. A paused client sees nothing, so: the hub's connection gauge
    // falls back, no socket of the hub's port lingers, and once resumed each sees the end.
    const openBefore = metric(await metrics(hub.httpPort as number), 'privatelink_dns_tcp_connections');
    const stalled = await Promise.all(sources(4).flatMap((src) => Array.from({ length: 5 }, () => TcpDns.connect(port, src))));
    for (const s of stalled) {
      s.socket.pause();
      s.send(signed(RRType.AXFR).message);
    }
    await sleep(500);
    const openStalled = metric(await metrics(hub.httpPort as number), 'privatelink_dns_tcp_connections');
    t.ok(openStalled >= openBefore + 20, `the 20 stalled readers are connected (${openStalled} open)`);
    const stallStart = Date.now();
    let openNow = openStalled;
    while (openNow > openBefore && Date.now() - stallStart < IDLE_TIMEOUT_MS * 3 + 10_000) {
      await sleep(250);
      openNow = metric(await metrics(hub.httpPort as number), 'privatelink_dns_tcp_connections');
    }
    t.ok(openNow <= openBefore, `the hub closed every stalled reader (${Date.now() - stallStart} ms; ${openNow} open, ${openBefore} before)`);
    t.equal(finWait1(port), 0, 'reset, not closed behind the unread zone: no FIN-WAIT-1 socket lingers on the hub port');
    for (const s of stalled) s.socket.resume();
    const closed = await Promise.all(stalled.map((s) => s.waitClosed(10_000)));
    t.ok(closed.every(Boolean), 'resumed, each stalled reader sees the connection end');
    for (const s of stalled) s.destroy();

    // 20 readers that vanish after the first message of the transfer.
    let vanished = 0;
    await Promise.all(sources(4).flatMap((src) => Array.from({ length: 5 }, async () => {
      const s = await TcpDns.connect(port, src);
      s.send(signed(RRType.AXFR).message);
      await s.waitFrames(1, 5000);
      if (s.frames.length > 0) vanished++;
      s.socket.resetAndDestroy();
    })));
    t.equal(vanished, 20, '20 readers left after the first message');
  });

  await phase('IXFR with a missing, garbage or out-of-range SOA', async () => {
    const port = hub.dnsPort;
    const ixfr = (authorities: WireRecord[]): Buffer => signRequest(plainRequest(RRType.IXFR, { authorities }), FLEET_KEY).message;
    const cases: { name: string; msg: Buffer }[] = [
      { name: 'no SOA at all', msg: ixfr([]) },
      { name: 'an SOA with 3 bytes of rdata', msg: ixfr([{ name: BULK_ZONE, type: RRType.SOA, class: CLASS_IN, ttl: 0, rdata: Buffer.from([1, 2, 3]) }]) },
      { name: 'an SOA whose names run past the rdata', msg: ixfr([{ name: BULK_ZONE, type: RRType.SOA, class: CLASS_IN, ttl: 0, rdata: Buffer.from([9, 97, 98, 0, 0, 0, 0, 0, 0]) }]) },
      { name: 'an A record instead of the SOA', msg: ixfr([{ name: BULK_ZONE, type: RRType.A, class: CLASS_IN, ttl: 0, rdata: Buffer.from([1, 2, 3, 4]) }]) },
    ];
    for (const c of cases) {
      const m = await askTcp(port, c.msg);
      t.equal(m?.rcode, RCode.FORMERR, `IXFR with ${c.name}: FORMERR`);
      t.equal(m?.answers.length, 0, `IXFR with ${c.name}: no zone data`);
    }
    const current = await askTcp(port, ixfr([serialOnlySoa(BULK_ZONE, serial)]));
    t.equal(current?.answers.length, 1, 'IXFR from the current serial: the SOA alone');
    const ahead = await askTcp(port, ixfr([serialOnlySoa(BULK_ZONE, serial + 10)]));
    t.equal(ahead?.answers.length, 1, 'IXFR from a serial ahead of ours: the SOA alone');

    // No journal reaches back: the whole zone, AXFR-style, under the IXFR question (RFC 1995 §4).
    const req = signRequest(plainRequest(RRType.IXFR, { authorities: [serialOnlySoa(BULK_ZONE, serial - 5)] }), FLEET_KEY);
    const full = await collectTransfer(port, req.message, { localAddress: '127.0.0.2', key: FLEET_KEY, requestMac: req.mac });
    t.ok(full.complete && full.tsigOk, 'IXFR from an old serial: a whole, verified answer');
    t.equal(full.records, RECORDS, 'with every record');
    t.ok(full.questionTypes.length > 0 && full.questionTypes.every((q) => q === RRType.IXFR), 'every message carries the IXFR question');
    const viaClient = await transferZone({ host: '127.0.0.1', port, family: 4 }, BULK_ZONE, { key: FLEET_KEY, timeoutMs: 30_000, currentSerial: serial - 5 }).then(
      (r) => r.kind,
      (err: Error) => err.message,
    );
    t.equal(viaClient, 'axfr', 'our own client takes the AXFR-style IXFR answer');
  });

  await phase('NOTIFY sent to a hub', async () => {
    const port = hub.dnsPort;
    const notify = buildNotify(777, BULK_ZONE, serial + 1);
    const overUdp = await udpAsk(port, notify, 2000);
    const m = overUdp ? parseMessage(overUdp) : undefined;
    t.ok(m && m.rcode !== 0, `a NOTIFY over UDP is not acknowledged (rcode ${m?.rcode})`);
    t.equal(m?.opcode, OPCODE_NOTIFY, 'the answer is a NOTIFY answer');
    const signedNotify = signRequest(notify, FLEET_KEY).message;
    const overTcp = await askTcp(port, signedNotify);
    t.ok(overTcp && overTcp.rcode !== 0, `a signed NOTIFY over TCP is not acknowledged (rcode ${overTcp?.rcode})`);
    const soa = await askTcp(port, signed(RRType.SOA).message);
    t.equal(soa?.answers[0] ? wireToSoa(soa.answers[0])?.soa.serial : undefined, serial, 'the serial did not move');
  });

  await phase(`${SOA_CHECKS} concurrent SOA checks over TCP`, async () => {
    const port = hub.dnsPort;
    const from = sources(20);
    const started = Date.now();
    const results = await Promise.all(Array.from({ length: SOA_CHECKS }, async (_, i) => {
      const req = signed(RRType.SOA);
      let c: TcpDns;
      try {
        c = await TcpDns.connect(port, from[i % from.length]);
      } catch {
        return 'connect failed';
      }
      try {
        c.send(req.message);
        const frames = await c.waitFrames(1, 30_000);
        if (!frames[0]) return 'no answer';
        const m = parseMessage(frames[0]);
        const v = new TsigStreamVerifier(FLEET_KEY, req.mac);
        if (!v.verify(frames[0], m).ok) return 'bad TSIG';
        return m.answers[0] && wireToSoa(m.answers[0])?.soa.serial === serial ? 'ok' : 'wrong answer';
      } finally {
        c.destroy();
      }
    }));
    const ms = Date.now() - started;
    const failures = results.filter((r) => r !== 'ok');
    t.same(failures, [], `all ${SOA_CHECKS} SOA checks answered with the serial, signed`);
    t.comment(`${SOA_CHECKS} concurrent SOA checks (${from.length} source addresses): ${ms} ms`);
  });

  await phase(`${AXFRS} concurrent AXFRs of the ${NAMES}-name zone`, async () => {
    const port = hub.dnsPort;
    const from = sources(5);
    const rssBefore = rssKb(pid);
    let rssPeak = rssBefore;
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssKb(pid))), 100);
    const started = Date.now();
    let results: CollectedTransfer[];
    try {
      results = await Promise.all(Array.from({ length: AXFRS }, (_, i) => {
        const req = signed(RRType.AXFR);
        return collectTransfer(port, req.message, { localAddress: from[i % from.length], key: FLEET_KEY, requestMac: req.mac, timeoutMs: 120_000 });
      }));
    } finally {
      clearInterval(sampler);
    }
    const ms = Date.now() - started;
    const bad = results.map((r, i) => ({ i, r })).filter(({ r }) => !(r.complete && r.tsigOk && r.rcode === 0 && r.records === RECORDS && r.firstSerial === serial && r.lastSerial === serial));
    t.same(bad.map(({ i, r }) => ({ i, complete: r.complete, tsig: r.tsigProblem ?? r.tsigOk, rcode: r.rcode, records: r.records, first: r.firstSerial, last: r.lastSerial })), [],
      `all ${AXFRS} transfers complete: ${RECORDS} records between two SOAs of serial ${serial}, every message in the TSIG chain`);
    const slowest = Math.max(...results.map((r) => r.ms));
    t.comment(`${AXFRS} concurrent AXFRs: ${ms} ms in all (slowest ${slowest} ms), ${results[0].messages} messages and ${results[0].bytes} bytes each; hub RSS ${(rssBefore / 1024).toFixed(1)} → peak ${(rssPeak / 1024).toFixed(1)} MB`);
    t.ok(rssPeak - rssBefore < 256 * 1024, 'the hub did not hold the transfers in memory (RSS grew < 256 MB)');
  });

  await side.stop();
  const all = side.summary();
  t.comment(`side loop over the whole run: ${fmt(all)} (goal: answers within 50 ms)`);
  t.ok(side.sent > 100, `the side loop ran (${side.sent} queries)`);
  t.equal(side.lost, 0, 'no UDP query to a managed name was lost');
  t.equal(side.wrong, 0, 'every answer held the right addresses');
  t.ok(all.max < 2000, `no query took longer than 2 s (max ${all.max.toFixed(1)} ms)`);

  // Alive and answering afterwards, over UDP and TCP, with nothing logged as failed.
  const after = await udpAsk(hub.dnsPort, encodeMessage({ id: 9, flags: 0x0100, question: { name: bulkName(NAMES), type: RRType.A, class: CLASS_IN } }), 2000);
  t.ok(after && parseMessage(after).answers.length === 1, 'the hub answers over UDP afterwards');
  const lastSoa = await askTcp(hub.dnsPort, signed(RRType.SOA).message, '127.0.0.1');
  t.equal(lastSoa?.rcode, 0, 'and SOA over TCP');
  t.equal(hub.proc.exitCode, null, 'the hub is still running');
  const failed = hub.logs().filter((l) => typeof l.msg === 'string' && /failed|uncaught/i.test(l.msg as string));
  t.same(failed.map((l) => l.msg), [], 'the hub logged no failure');
  const m = await metrics(hub.httpPort as number);
  t.comment(`transfers served: axfr ok ${metric(m, 'privatelink_dns_transfer_served_total', 'type="axfr"', 'result="ok"')}, aborted ${metric(m, 'privatelink_dns_transfer_served_total', 'result="aborted"')}, notauth ${metric(m, 'privatelink_dns_transfer_served_total', 'result="notauth"')}; RSS ${(rssStartKb / 1024).toFixed(1)} → ${(rssKb(pid) / 1024).toFixed(1)} MB`);
});

