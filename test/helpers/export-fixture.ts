// Shared by the export tests: a table with every shape the exporters must handle, and the
// small process and DNS helpers that drive the real peer servers. Not a test file itself.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import type { TableEntryInput } from '../../src/resolve/table';

export const TTL = 30;
export const GENERATED_AT = new Date('2025-01-02T03:04:05Z');

export const CS = 'cs-anony-vpc.cn-hangzhou.aliyuncs.com';
export const OSS = 'oss-cn-hangzhou-internal.aliyuncs.com';
export const REGISTRY = 'registry-cn-hangzhou-vpc.ack.aliyuncs.com';
export const EPSRV = 'epsrv.cn-hangzhou.privatelink.aliyuncs.com';
export const EPSRV_API = `api.${EPSRV}`;

/** Exact IPv4-only, exact+wildcard with IPv6, a name with no IPs, a wildcard with an exact name inside. */
export const INPUTS: readonly TableEntryInput[] = [
  { id: 'ep-cs', names: [CS], ipv4: ['10.0.1.10', '10.0.2.10'], ipv6: [] },
  { id: 'ep-oss', names: [OSS, `*.${OSS}`], ipv4: ['10.0.1.20'], ipv6: ['fd00:0:0:1::20'] },
  { id: 'ep-registry', names: [REGISTRY], ipv4: [], ipv6: [] },
  { id: 'ep-epsrv', names: [`*.${EPSRV}`], ipv4: ['10.0.3.30'], ipv6: [] },
  { id: 'static:api', names: [EPSRV_API], ipv4: ['10.0.3.31'], ipv6: [] },
];

export const OPTS = { ttl: TTL, generatedAt: GENERATED_AT, version: '0.0.0-test' };

/** What a fake upstream answers for every A query: the conflicting public-VPC address. */
export const UPSTREAM_A = '100.100.1.1';

export function run(cmd: string, args: readonly string[], timeoutMs = 20_000): { code: number | null; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

/** A port free for both UDP and TCP on 127.0.0.1 (raced, but retried by callers' readiness checks). */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const udpFree = await new Promise<boolean>((resolve) => {
      const u = dgram.createSocket('udp4');
      u.once('error', () => resolve(false));
      u.bind(port, '127.0.0.1', () => u.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
}

/** Starts `cmd` under coreutils `timeout`, so it dies even if this test process is killed. */
export function startBounded(cmd: string, args: readonly string[], maxSeconds: number): { child: ChildProcess; output: () => string; stop: () => Promise<void> } {
  const child = spawn('timeout', ['-k', '2', String(maxSeconds), cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    output: () => output,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM'); // timeout passes it on
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

export interface DigResult {
  status: string;
  flags: string[];
  answers: { name: string; ttl: number; type: string; data: string }[];
}

/** Asynchronous on purpose: the fake upstream lives in this process and must keep answering. */
export async function dig(port: number, name: string, type: string): Promise<DigResult> {
  const r = await new Promise<{ out: string }>((resolve) => {
    execFile('dig', ['+time=2', '+tries=1', '+nocookie', '-p', String(port), '@127.0.0.1', name, type], { timeout: 10_000 }, (err, stdout, stderr) =>
      resolve({ out: `${stdout}${stderr}${err && !stdout ? String(err) : ''}` }),
    );
  });
  const status = /status: ([A-Z]+)/.exec(r.out)?.[1] ?? `NO-RESPONSE (${r.out.trim().split('\n').pop()})`;
  const flags = /;; flags: ([a-z ]+);/.exec(r.out)?.[1].trim().split(/\s+/) ?? [];
  const answers: DigResult['answers'] = [];
  const section = r.out.split(';; ANSWER SECTION:\n')[1];
  if (section) {
    for (const line of section.split('\n')) {
      if (line.trim() === '') break;
      const [n, ttl, , t, ...data] = line.split(/\s+/);
      answers.push({ name: n, ttl: Number(ttl), type: t, data: data.join(' ') });
    }
  }
  return { status, flags, answers };
}

/** Polls with dig until the server answers at all. */
export async function waitForDns(port: number, probeName: string, deadlineMs = 8000): Promise<boolean> {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    if (!(await dig(port, probeName, 'A')).status.startsWith('NO-RESPONSE')) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

/**
 * A stand-in for the public resolver: answers every A query with UPSTREAM_A (the conflicting
 * 100.64/10 address a leak would hand out), everything else with NODATA, and records what it saw.
 */
export async function startFakeUpstream(): Promise<{ port: number; seen: string[]; close: () => Promise<void> }> {
  const sock = dgram.createSocket('udp4');
  const seen: string[] = [];
  sock.on('message', (msg, rinfo) => {
    if (msg.length < 12) return;
    let off = 12;
    const labels: string[] = [];
    while (off < msg.length && msg[off] !== 0) {
      labels.push(msg.subarray(off + 1, off + 1 + msg[off]).toString('latin1'));
      off += msg[off] + 1;
    }
    off += 1;
    if (off + 4 > msg.length) return;
    const qtype = msg.readUInt16BE(off);
    const question = msg.subarray(12, off + 4);
    const qname = labels.join('.').toLowerCase();
    seen.push(`${qname}/${qtype}`);
    const header = Buffer.alloc(12);
    msg.copy(header, 0, 0, 2);
    header.writeUInt16BE(0x8180 | (msg[2] & 0x01 ? 0x0100 : 0), 2); // QR, RA; echo RD
    header.writeUInt16BE(1, 4);
    const answer = qtype === 1 ? Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, ...UPSTREAM_A.split('.').map(Number)]) : Buffer.alloc(0);
    header.writeUInt16BE(answer.length > 0 ? 1 : 0, 6);
    sock.send(Buffer.concat([header, question, answer]), rinfo.port, rinfo.address);
  });
  const port = await freePort();
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(port, '127.0.0.1', () => resolve());
  });
  return { port, seen, close: () => new Promise<void>((r) => sock.close(() => r())) };
}

export function sortedData(r: DigResult, type: string): string[] {
  return r.answers.filter((a) => a.type === type).map((a) => a.data).sort();
}
