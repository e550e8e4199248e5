import dgram from 'node:dgram';
import { closeSync, fstatSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { NativeUdpExchanger } from '../../src/upstream/native-udp-exchanger';
import { loadNativeAddon } from '../../src/native/addon';
import type { HostPort } from '../../src/config/units';
import { answerFor, startResponder, type Responder, type ResponderReply } from '../helpers/responder';
import { encodeQuery } from '../helpers/wire';

/**
 * The addon's upstream exchanges (src/native/upstream_udp.c) against real sockets on 127.0.0.1:
 * RFC 5452 source ports, replies from elsewhere, ICMP errors, oversized replies, socket
 * bookkeeping. The forwarder's behaviour over this exchanger is in upstream-forwarder.test.ts.
 */

const addon = loadNativeAddon();

function exchanger(t: Test): NativeUdpExchanger {
  if (!addon.ok) throw new Error(`addon not loadable: ${addon.reason}`);
  const x = new NativeUdpExchanger(addon.binding);
  t.teardown(() => x.close());
  return x;
}

async function responder(t: Test, reply: ResponderReply): Promise<Responder> {
  const r = await startResponder(reply, 0);
  t.teardown(() => r.close());
  return r;
}

const at = (port: number): HostPort => ({ host: '127.0.0.1', port, family: 4 });

function query(name: string, id: number): { bytes: Buffer; questionEnd: number } {
  const bytes = encodeQuery(name, { id, edns: false });
  // No OPT: the question ends the message.
  return { bytes, questionEnd: bytes.length };
}

t.test('the addon is built (CI builds it with PLDNS_NATIVE=required)', async (t) => {
  t.ok(addon.ok, addon.ok ? 'loaded' : addon.reason);
});

t.test('every exchange leaves from a fresh, random source port; no socket is left open', async (t) => {
  const ports: number[] = [];
  const a = await responder(t, (q, send, rinfo) => {
    ports.push(rinfo.port);
    send(answerFor(q, '192.0.2.1'));
  });
  const x = exchanger(t);
  const n = 60;
  for (let i = 0; i < n; i++) {
    const q = query(`n${i}.example`, 1000 + i);
    const r = await x.exchange(at(a.port), q.bytes, q.questionEnd, 2000);
    t.equal(r.reply.readUInt16BE(0), 1000 + i, `reply ${i} matched`);
  }
  // Fresh random ports: a port may come round again by chance (60 draws from ~28,000 collide about
  // 6 % of the time), but not often, and not in sequence as a reused or counting socket would.
  const distinct = new Set(ports).size;
  t.ok(distinct >= n - 3, `${n} exchanges, ${distinct} distinct source ports`);
  const stepsOfOne = ports.slice(1).filter((p, i) => p - (ports[i] as number) === 1).length;
  t.ok(stepsOfOne < n / 4, `source ports are not handed out in sequence (${stepsOfOne} steps of 1)`);
  const steps = ports.slice(1).map((p, i) => p - ports[i]);
  const sequential = steps.filter((d) => d === 1 || d === 2).length;
  t.ok(sequential < n / 4, `ports are not handed out in order (${sequential} of ${steps.length} steps were +1/+2)`);
  t.equal(x.openSockets, 0, 'each socket closed when its exchange ended');
});

t.test('concurrent exchanges each get their own reply', async (t) => {
  const held: (() => void)[] = [];
  const a = await responder(t, (q, send) => held.push(() => send(answerFor(q, '192.0.2.2'))));
  const x = exchanger(t);
  const pending = Array.from({ length: 200 }, (_, i) => {
    const q = query(`c${i}.example`, i);
    return x.exchange(at(a.port), q.bytes, q.questionEnd, 5000);
  });
  while (held.length < 200) await new Promise((r) => setTimeout(r, 10));
  t.equal(x.openSockets, 200, '200 sockets open while 200 exchanges are out');
  // Answer in reverse order: matching is by socket, ID and question, not by arrival.
  for (const f of held.reverse()) f();
  const replies = await Promise.all(pending);
  t.same(replies.map((r) => r.reply.readUInt16BE(0)), Array.from({ length: 200 }, (_, i) => i), 'each exchange got the reply to its own query');
  t.equal(x.openSockets, 0);
});

t.test('a reply with the right ID from another port never reaches the exchange', async (t) => {
  const forger = dgram.createSocket('udp4');
  t.teardown(() => forger.close());
  await new Promise<void>((r) => forger.bind(0, '127.0.0.1', () => r()));
  let forged = 0;
  const a = await responder(t, (q, send, rinfo) => {
    // The forger knows the port and the ID, but it is not the server: a connected socket drops it.
    forger.send(answerFor(q, '6.6.6.6'), rinfo.port, rinfo.address, () => {
      forged++;
      setTimeout(() => send(answerFor(q, '192.0.2.3')), 30);
    });
  });
  const x = exchanger(t);
  const q = query('forged.example', 77);
  const r = await x.exchange(at(a.port), q.bytes, q.questionEnd, 2000);
  t.equal(forged, 1, 'the forged reply was sent first');
  t.equal(r.reply.subarray(-4).join('.'), '192.0.2.3', 'the genuine reply is the one taken');
  t.equal(r.mismatches, 0, 'the forged one was dropped by the kernel, not even seen');
});

t.test('a wrong ID or question from the server is counted and skipped', async (t) => {
  const a = await responder(t, (q, send) => {
    send(answerFor(q, '6.6.6.6', { id: (q.readUInt16BE(0) + 1) & 0xffff }));
    send(answerFor(q, '6.6.6.7', { question: Buffer.from([3, 0x66, 0x6f, 0x6f, 0, 0, 1, 0, 1]) }));
    setTimeout(() => send(answerFor(q, '192.0.2.4')), 30);
  });
  const x = exchanger(t);
  const q = query('x.example', 5);
  const r = await x.exchange(at(a.port), q.bytes, q.questionEnd, 2000);
  t.equal(r.reply.subarray(-4).join('.'), '192.0.2.4');
  t.equal(r.mismatches, 2);
});

t.test('a closed port fails at once (ICMP port unreachable), not after the timeout', async (t) => {
  const probe = dgram.createSocket('udp4');
  await new Promise<void>((r) => probe.bind(0, '127.0.0.1', () => r()));
  const closedPort = probe.address().port;
  await new Promise<void>((r) => probe.close(() => r()));
  const x = exchanger(t);
  const q = query('refused.example', 9);
  const started = Date.now();
  await t.rejects(x.exchange(at(closedPort), q.bytes, q.questionEnd, 60_000), { code: 'UPSTREAM_FAILED', message: /ECONNREFUSED/ });
  // Not a timing threshold: the deadline was 60 s; the rejection came from the kernel's error.
  t.ok(Date.now() - started < 60_000, 'rejected before the deadline');
  t.equal(x.openSockets, 0);
});

t.test('a silent server: UPSTREAM_TIMEOUT with the mismatch count; a late reply after it is ignored', async (t) => {
  let late: (() => void) | undefined;
  const a = await responder(t, (q, send) => {
    send(answerFor(q, '6.6.6.6', { id: (q.readUInt16BE(0) + 1) & 0xffff }));
    late = () => send(answerFor(q, '192.0.2.5'));
  });
  const x = exchanger(t);
  const q = query('slow.example', 11);
  await t.rejects(x.exchange(at(a.port), q.bytes, q.questionEnd, 200), { code: 'UPSTREAM_TIMEOUT', details: { mismatches: 1 } });
  t.equal(x.openSockets, 0, 'the socket is closed at the timeout');
  late?.();
  const again = query('next.example', 12);
  const b = await responder(t, (q2, send) => send(answerFor(q2, '192.0.2.6')));
  const r = await x.exchange(at(b.port), again.bytes, again.questionEnd, 2000);
  t.equal(r.reply.subarray(-4).join('.'), '192.0.2.6', 'the exchanger goes on normally');
});

t.test('a 60 KB reply (an upstream ignoring our EDNS size) arrives whole', async (t) => {
  const a = await responder(t, (q, send) => {
    const base = answerFor(q, '192.0.2.7');
    // One answer record repeated until the message is 60 KB.
    const rr = base.subarray(base.length - 16);
    const copies = 3800;
    const big = Buffer.concat([base, ...Array.from({ length: copies - 1 }, () => rr)]);
    big.writeUInt16BE(copies, 6);
    send(big);
  });
  const x = exchanger(t);
  const q = query('big.example', 13);
  const r = await x.exchange(at(a.port), q.bytes, q.questionEnd, 2000);
  t.equal(r.reply.length, q.bytes.length + 16 * 3800, 'every byte of it');
  t.equal(r.reply.readUInt16BE(0), 13);
  t.equal(r.reply.readUInt16BE(6), 3800);
});

t.test('close() ends the exchanges still out and frees their sockets', async (t) => {
  const a = await responder(t, () => {});
  if (!addon.ok) throw new Error(addon.reason);
  const x = new NativeUdpExchanger(addon.binding);
  const q = query('never.example', 14);
  const out = x.exchange(at(a.port), q.bytes, q.questionEnd, 60_000);
  while (a.seen < 1) await new Promise((r) => setTimeout(r, 5));
  t.equal(x.openSockets, 1);
  x.close();
  await t.rejects(out, { code: 'UPSTREAM_FAILED', message: /closed/ });
  t.equal(x.openSockets, 0);
  await t.rejects(x.exchange(at(a.port), q.bytes, q.questionEnd, 60_000), { code: 'UPSTREAM_FAILED' }, 'no exchange after close');
  t.equal(a.seen, 1, 'nothing more was sent');
});

t.test('upRelease and upClose close only sockets the set opened and has not closed', async (t) => {
  if (!addon.ok) throw new Error(addon.reason);
  const b = addon.binding;
  const dir = mkdtempSync(join(tmpdir(), 'pldns-upstream-fds-'));
  const file = join(dir, 'not-a-socket');
  writeFileSync(file, 'x');
  const opened: number[] = [];
  const openFile = (): number => {
    const fd = openSync(file, 'r');
    opened.push(fd);
    return fd;
  };
  t.teardown(() => {
    for (const fd of opened) {
      try {
        closeSync(fd);
      } catch {
        // closed by the code under test: the failure is reported by the assertions below
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });
  const isOpen = (fd: number): boolean => {
    try {
      fstatSync(fd);
      return true;
    } catch {
      return false;
    }
  };
  const a = await responder(t, () => {});
  const handle = b.upOpen(Buffer.allocUnsafeSlow(b.UP_BATCH * b.UP_SLOT), Buffer.alloc(b.UP_BATCH * 8), () => {});

  const foreign = openFile();
  b.upRelease(handle, foreign);
  t.ok(isOpen(foreign), 'a token the set never handed out: the descriptor is left alone');

  const q = query('owned.example', 15);
  const token = b.upSend(handle, 4, '127.0.0.1', a.port, q.bytes);
  if (typeof token !== 'number') throw new Error(`upSend: ${token}`);
  t.equal(b.upOpenSockets(handle), 1);
  b.upRelease(handle, token);
  t.equal(b.upOpenSockets(handle), 0, 'released');
  // The lowest free descriptor is usually the one just released: a stale token then names it.
  const reused = openFile();
  b.upRelease(handle, token);
  t.ok(isOpen(reused), `a stale token (${token}; the file got ${reused}) does not close what now has its number`);
  t.equal(b.upOpenSockets(handle), 0, 'the count is not decremented twice');

  const still = b.upSend(handle, 4, '127.0.0.1', a.port, q.bytes);
  t.type(still, 'number', 'a socket still out at close');
  b.upClose(handle);
  t.ok(isOpen(foreign) && isOpen(reused), 'upClose closes the set\'s own sockets only');
  t.ok(typeof still === 'number' && !opened.includes(still) && !isOpen(still), 'the socket still out was closed');
});

/** Timers alive in this process now (Node's own count of active Timeout resources). */
const timersAlive = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

t.test('deadlines share one timer: the timers armed do not grow with the exchanges out', async (t) => {
  const a = await responder(t, () => {});
  const x = exchanger(t);
  const before = timersAlive();
  const n = 300;
  const settled: Promise<unknown>[] = [];
  for (let i = 0; i < n; i++) {
    const q = query(`wheel${i}.example`, i);
    // Two timeouts, interleaved: two deadline lists, still one timer.
    settled.push(x.exchange(at(a.port), q.bytes, q.questionEnd, i % 2 === 0 ? 60_000 : 30_000).catch((err: unknown) => err));
  }
  t.equal(x.outstanding, n, `${n} exchanges out`);
  t.equal(x.openSockets, n);
  t.ok(timersAlive() - before <= 1, `timers alive: ${before} before, ${timersAlive()} with ${n} exchanges out`);
  x.close();
  const errors = await Promise.all(settled);
  t.ok(errors.every((e) => (e as { code?: string }).code === 'UPSTREAM_FAILED'), 'close() ends them all');
  t.equal(x.outstanding, 0);
  t.equal(timersAlive(), before, 'and disarms the timer');
});

t.test('each exchange times out at its own deadline, never before, in deadline order, whatever the start order', async (t) => {
  const a = await responder(t, () => {});
  const answered = await responder(t, (q, send) => setTimeout(() => send(answerFor(q, '192.0.2.8')), 20));
  const x = exchanger(t);
  const order: string[] = [];
  const early: string[] = [];
  // Started longest first: a deadline list per timeout, so the shorter ones still expire first.
  const plan = [
    ...Array.from({ length: 5 }, (_, i) => ({ name: `c${i}`, timeoutMs: 600 })),
    ...Array.from({ length: 5 }, (_, i) => ({ name: `b${i}`, timeoutMs: 400 })),
    ...Array.from({ length: 5 }, (_, i) => ({ name: `a${i}`, timeoutMs: 200 })),
  ];
  const runs = plan.map(({ name, timeoutMs }, i) => {
    const q = query(`${name}.example`, 100 + i);
    const started = performance.now();
    return x.exchange(at(a.port), q.bytes, q.questionEnd, timeoutMs).then(
      () => t.fail(`${name} got an answer from a silent server`),
      (err: { code?: string; details?: { mismatches?: number } }) => {
        t.equal(err.code, 'UPSTREAM_TIMEOUT', `${name}: timeout`);
        if (performance.now() - started < timeoutMs) early.push(name);
        order.push(name[0]);
      },
    );
  });
  // One exchange in the middle that is answered: it ends early and leaves the others' deadlines alone.
  const q = query('answered.example', 99);
  const r = await x.exchange(at(answered.port), q.bytes, q.questionEnd, 400);
  t.equal(r.reply.subarray(-4).join('.'), '192.0.2.8', 'an answered exchange is not timed out');
  await Promise.all(runs);
  t.same(early, [], 'none timed out before its deadline');
  t.equal(order.join(''), 'aaaaabbbbbccccc', 'shorter timeouts expired first');
  t.equal(x.openSockets, 0, 'each socket closed at its timeout');
  t.equal(x.outstanding, 0);
});

t.test('an exchange started from a timeout callback gets a deadline of its own (the sweep re-arms)', async (t) => {
  const a = await responder(t, () => {});
  const x = exchanger(t);
  const q1 = query('first.example', 1);
  const q2 = query('second.example', 2);
  // Wrapped: resolving with a promise would adopt it.
  const { second } = await new Promise<{ second: Promise<unknown> }>((resolve) => {
    x.start(at(a.port), q1.bytes, q1.questionEnd, 50, {
      exchanged: () => t.fail('no answer expected'),
      exchangeFailed: () => resolve({ second: x.exchange(at(a.port), q2.bytes, q2.questionEnd, 50) }),
    });
  });
  await t.rejects(second, { code: 'UPSTREAM_TIMEOUT' });
  t.equal(x.outstanding, 0);
});
