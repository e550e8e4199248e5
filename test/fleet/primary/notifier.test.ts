import t from 'tap';
import { createLogger } from '../../../src/runtime/log';
import { Notifier } from '../../../src/fleet/primary/notifier';
import type { HostPort } from '../../../src/config/units';
import type { LearnedTarget } from '../../../src/fleet/primary/secondary-registry';
import type { NotifyAnswer } from '../../../src/fleet/primary/notify-channel';
import type { NotifyResult } from '../../../src/fleet/primary/notifier';
import { PldnsError } from '../../../src/errors';
import { captureLogger } from '../../helpers/log-capture';

// NOTIFY to listed and learned targets: each signed with the key that target uses, through one
// queue whose concurrency and rate are bounded.

const hp = (host: string, port = 53): HostPort => ({ host, port, family: 4 });
const ACK: NotifyAnswer = { result: 'ack' };

t.test('a thousand learned secondaries: every one told once, with its own key, never more than the in-flight bound at once', async (t) => {
  const learned: LearnedTarget[] = Array.from({ length: 1000 }, (_, i) => ({ target: hp(`10.9.${i >> 8}.${i & 255}`), keyName: i % 2 === 0 ? 'group-a' : 'group-b' }));
  const calls: { host: string; key: string | undefined; serial: number }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let resolveAll: () => void = () => {};
  const done = new Promise<void>((r) => (resolveAll = r));
  const n = new Notifier({
    targets: [hp('192.0.2.1', 5300)],
    learned: () => learned,
    keyOf: (a) => (a === '192.0.2.1' ? 'listed-key' : undefined),
    send: async (target, _zone, serial, keyName) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      calls.push({ host: target.host, key: keyName, serial });
      await new Promise((r) => setImmediate(r));
      inFlight--;
      if (calls.length === 1001) resolveAll();
      return ACK;
    },
    observer: { sent: () => {} },
    logger: createLogger('silent'),
    maxInFlight: 16,
    ratePerSecond: 100_000,
  });
  n.announce('privatelink.rpz', 7);
  await done;
  await new Promise((r) => setImmediate(r));
  t.equal(calls.length, 1001, 'every learned secondary and the listed target');
  t.equal(new Set(calls.map((c) => c.host)).size, 1001, 'each once');
  t.ok(maxInFlight <= 16, `at most 16 at once (saw ${maxInFlight})`);
  t.ok(calls.every((c) => c.host === '192.0.2.1' ? c.key === 'listed-key' : c.key === learned.find((l) => l.target.host === c.host)?.keyName), 'signed with the key that target uses');
  t.ok(calls.every((c) => c.serial === 7));
  t.equal(n.pending.length, 0);
  n.stop();
});

t.test('the rate bound: a burst starts at most one second\'s worth at once; a newer serial replaces queued ones', async (t) => {
  const learned: LearnedTarget[] = Array.from({ length: 50 }, (_, i) => ({ target: hp(`10.8.0.${i + 1}`), keyName: 'k' }));
  const started: number[] = [];
  const gates: (() => void)[] = [];
  const n = new Notifier({
    targets: [],
    learned: () => learned,
    send: (_t, _z, serial) => {
      started.push(serial);
      return new Promise((r) => gates.push(() => r(ACK)));
    },
    observer: { sent: () => {} },
    logger: createLogger('silent'),
    maxInFlight: 1000,
    ratePerSecond: 10,
  });
  n.announce('privatelink.rpz', 1);
  t.equal(started.length, 10, 'ten started at once (one second at 10/s), the rest queued');
  n.announce('privatelink.rpz', 2);
  t.equal(started.filter((s) => s === 2).length, 0, 'the new serial waits for the rate too');
  t.equal(n.pending.length, 50, 'one pending job per target, the newest serial');
  t.ok(n.pending.every((p) => p.serial === 2));
  n.stop();
  for (const g of gates) g();
});

t.test('a listed host that is also learned is told once, at its listed port, with its learned key', async (t) => {
  const calls: string[] = [];
  const n = new Notifier({
    targets: [hp('10.6.0.1', 5300)],
    learned: () => [{ target: hp('10.6.0.1'), keyName: 'k1' }, { target: hp('10.6.0.2'), keyName: 'k2' }],
    keyOf: (a) => (a === '10.6.0.1' ? 'k1' : undefined),
    send: async (target, _z, _s, keyName) => {
      calls.push(`${target.host}:${target.port} ${keyName}`);
      return ACK;
    },
    observer: { sent: () => {} },
    logger: createLogger('silent'),
  });
  n.announce('privatelink.rpz', 3);
  await new Promise((r) => setImmediate(r));
  t.same(calls.sort(), ['10.6.0.1:5300 k1', '10.6.0.2:53 k2']);
  n.stop();
});

t.test('learned targets that never answer are given up after a few attempts', async (t) => {
  let attempts = 0;
  const n = new Notifier({
    targets: [],
    learned: () => [{ target: hp('10.7.0.1'), keyName: 'k' }],
    send: async () => {
      attempts++;
      throw new Error('timeout');
    },
    observer: { sent: () => {} },
    logger: createLogger('silent'),
    retryMs: 1,
    maxDelayMs: 2,
    learnedMaxAttempts: 3,
  });
  n.announce('privatelink.rpz', 1);
  for (let i = 0; i < 200 && n.pending.length > 0; i++) await new Promise((r) => setTimeout(r, 5));
  t.equal(attempts, 3, 'three attempts, then the SOA polling covers it');
  t.equal(n.pending.length, 0);
  n.stop();
});

t.test('a declined NOTIFY is counted by why (refused, bad_tsig), not retried; a bad key is a warning', async (t) => {
  const declined = (code: 'XFR_REFUSED' | 'XFR_BAD_TSIG', rcode: number): NotifyAnswer =>
    ({ result: 'declined', error: new PldnsError(code, `the target answered ${rcode}`, { details: { server: 'x', zone: 'privatelink.rpz', rcode } }) });
  const answers: Record<string, () => Promise<NotifyAnswer>> = {
    '10.5.0.1': async () => declined('XFR_REFUSED', 5),
    '10.5.0.2': async () => declined('XFR_BAD_TSIG', 9),
    '10.5.0.3': async () => ACK,
    '10.5.0.4': async () => { throw new PldnsError('XFR_TIMEOUT', 'no answer'); },
  };
  const calls: string[] = [];
  const results: NotifyResult[] = [];
  const { logger, lines } = captureLogger();
  const n = new Notifier({
    targets: Object.keys(answers).map((h) => hp(h)),
    send: (target) => {
      calls.push(target.host);
      return (answers[target.host] as () => Promise<NotifyAnswer>)();
    },
    observer: { sent: (r) => results.push(r) },
    logger,
    retryMs: 1,
    maxDelayMs: 2,
    maxAttempts: 3,
  });
  n.announce('privatelink.rpz', 9);
  for (let i = 0; i < 200 && n.pending.length > 0; i++) await new Promise((r) => setTimeout(r, 5));
  n.stop();
  t.equal(n.pending.length, 0);
  t.same(calls.filter((h) => h !== '10.5.0.4').sort(), ['10.5.0.1', '10.5.0.2', '10.5.0.3'], 'an answer, whatever it says, is not asked again');
  t.equal(calls.filter((h) => h === '10.5.0.4').length, 3, 'no answer: retried up to maxAttempts');
  t.same([...results].sort(), ['ack', 'bad_tsig', 'failed', 'failed', 'failed', 'refused']);
  const refused = lines.find((l) => l.msg === 'NOTIFY refused: the target does not carry this zone');
  t.match(refused, { level: 20, target: '10.5.0.1:53', serial: 9, err: /^XFR_REFUSED: / }, 'refused: a debug line with the code');
  const badKey = lines.find((l) => typeof l.msg === 'string' && l.msg.startsWith('NOTIFY declined: the target does not accept our TSIG key'));
  t.match(badKey, { level: 40, target: '10.5.0.2:53', serial: 9, err: /^XFR_BAD_TSIG: / }, 'bad TSIG: a warning with the code');
});
