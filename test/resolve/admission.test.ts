import t from 'tap';
import { AdmissionPolicy } from '../../src/resolve/admission';
import type { AccessConfig } from '../../src/config/schema';

const config = (over: Partial<AccessConfig> = {}): AccessConfig => ({
  allow: ['10.0.0.0/8', '127.0.0.0/8', '::1/128'],
  rateLimit: { responsesPerSecond: 1, burst: 2, slip: 0 },
  refusedRateLimit: { responsesPerSecond: 5, burst: 10 },
  ...over,
});

function policy(c: AccessConfig): { p: AdmissionPolicy; limited: string[] } {
  const limited: string[] = [];
  return { p: new AdmissionPolicy(c, { limited: (a) => limited.push(a) }), limited };
}

t.test('outside access.allow is refused on both transports, before any rate limit', async (t) => {
  const { p, limited } = policy(config());
  for (let i = 0; i < 5; i++) t.equal(p.check({ address: '192.0.2.1', port: 1 }, 'udp'), 'refuse');
  t.equal(p.check({ address: '192.0.2.1', port: 1 }, 'tcp'), 'refuse');
  t.same(limited, [], 'refusals are not counted as rate limiting');
});

t.test('UDP over the limit is dropped and reported; TCP and loopback are never limited', async (t) => {
  const { p, limited } = policy(config());
  const remote = { address: '10.1.2.3', port: 5300 };
  t.same([1, 2, 3].map(() => p.check(remote, 'udp')), ['pass', 'pass', 'drop']);
  t.same(limited, ['drop']);
  t.equal(p.check(remote, 'tcp'), 'pass', 'TCP needs a handshake: not spoofable, not limited');
  const local = { address: '127.0.0.1', port: 5300 };
  t.same([1, 2, 3, 4].map(() => p.check(local, 'udp')), ['pass', 'pass', 'pass', 'pass']);
  t.equal(p.check({ address: '::1', port: 1 }, 'udp'), 'pass');
});

t.test('slip answers every Nth limited response with TC', async (t) => {
  const { p, limited } = policy(config({ rateLimit: { responsesPerSecond: 1, burst: 1, slip: 2 } }));
  const c = { address: '10.9.9.9', port: 1 };
  const verdicts = [1, 2, 3, 4, 5].map(() => p.check(c, 'udp'));
  t.equal(verdicts[0], 'pass');
  t.ok(verdicts.slice(1).includes('slip') && verdicts.slice(1).includes('drop'), `limited verdicts mix slip and drop: ${verdicts}`);
  t.equal(limited.length, 4);
});

t.test('no rate limit configured: only the access list applies', async (t) => {
  const { p } = policy(config({ rateLimit: null }));
  const c = { address: '10.0.0.1', port: 1 };
  t.same([1, 2, 3, 4, 5].map(() => p.check(c, 'udp')), ['pass', 'pass', 'pass', 'pass', 'pass']);
});

t.test('reconfigure: a new allow list applies at once; unchanged limits keep their buckets', async (t) => {
  const { p } = policy(config());
  const c = { address: '10.1.1.1', port: 1 };
  p.check(c, 'udp');
  p.check(c, 'udp');
  p.reconfigure(config({ allow: ['10.0.0.0/8', '192.0.2.0/24'] }));
  t.equal(p.check({ address: '192.0.2.7', port: 1 }, 'udp'), 'pass', 'newly allowed');
  t.equal(p.check(c, 'udp'), 'drop', 'the bucket emptied before the reload is still empty');
  p.reconfigure(config({ allow: ['10.0.0.0/8'], rateLimit: { responsesPerSecond: 1, burst: 5, slip: 0 } }));
  t.equal(p.check(c, 'udp'), 'pass', 'changed limits start fresh buckets');
  t.equal(p.check({ address: '192.0.2.7', port: 1 }, 'udp'), 'refuse', 'removed from allow');
});

t.test('the REFUSED limit is a setting (access.refused_rate_limit); a reload with new values applies them', async (t) => {
  const outside = { address: '192.0.2.7', port: 1 };
  const count = (p: AdmissionPolicy, n: number): number => Array.from({ length: n }, () => p.mayRefuse(outside)).filter(Boolean).length;
  const { p } = policy(config({ refusedRateLimit: { responsesPerSecond: 0, burst: 3 } }));
  t.equal(count(p, 50), 3, 'burst 3, no refill: 3 of 50');
  p.reconfigure(config({ refusedRateLimit: { responsesPerSecond: 0, burst: 3 } }));
  t.equal(count(p, 50), 0, 'unchanged settings keep the buckets');
  p.reconfigure(config({ refusedRateLimit: { responsesPerSecond: 0, burst: 20 } }));
  t.equal(count(p, 50), 20, 'new settings apply at once');
  t.equal(count(p, 5), 0);
  t.equal(policy(config()).p.mayRefuse({ address: '127.0.0.1', port: 1 }), true, 'loopback is never limited');
});
