import t from 'tap';
import { PldnsError } from '../../../src/errors';
import { createLogger } from '../../../src/runtime/log';
import type { HostPort } from '../../../src/config/units';
import { DEFAULTS, type PrimariesConfig } from '../../../src/config/schema';
import type { ZoneRecord } from '../../../src/fleet/codec/zone-record';
import { RRType } from '../../../src/wire/constants';
import { Secondary, type XfrCalls, type ZoneStore } from '../../../src/fleet/secondary/secondary';
import type { TransferResult } from '../../../src/fleet/secondary/transfer-assembler';
import { parseSoa } from '../../../src/fleet/codec/soa';
import type { PolicyZone } from '../../../src/fleet/zone/policy-zone';
import { Slicer } from '../../../src/runtime/slices';

// The edge's refresh logic against scripted primaries: failover, IXFR with AXFR fallback, older
// primaries ignored, NOTIFY rules, the saved zone at boot, readiness. No sockets.

const ORIGIN = 'privatelink.rpz';
const soa = (serial: number): ZoneRecord => ({ name: ORIGIN, type: RRType.SOA, ttl: 30, data: `localhost hostmaster.${ORIGIN} ${serial} 60 15 1209600 30` });
const a = (name: string, ip: string): ZoneRecord => ({ name: `${name}.${ORIGIN}`, type: RRType.A, ttl: 30, data: ip });
const zoneAt = (serial: number, ip: string): ZoneRecord[] => [soa(serial), { name: ORIGIN, type: RRType.NS, ttl: 30, data: 'localhost' }, a('svc.example.com', ip), soa(serial)];

const server = (port: number): HostPort => ({ host: '127.0.0.1', port, family: 4 });
const config = (over: Partial<PrimariesConfig> = {}): PrimariesConfig => ({
  zone: ORIGIN, servers: [server(1), server(2)], key: null, refreshMs: 3_600_000, retryMs: 3_600_000, timeoutMs: 1000, maxStaleMs: 60_000, managed: ['example.com'], maxRecords: 50_000, maxDropShare: 0.5, refusedRanges: DEFAULTS.primariesRefusedRanges, ...over,
});

interface Primary {
  serial: number;
  ip: string;
  down?: boolean;
  ixfr?: 'ok' | 'bad';
  /** The zone's records between the SOAs, instead of one A record svc.example.com → ip. */
  body?: ZoneRecord[];
}

const records = (p: Primary): ZoneRecord[] => (p.body ? [soa(p.serial), ...p.body, soa(p.serial)] : zoneAt(p.serial, p.ip));

function scripted(primaries: Record<number, Primary>, log: string[]): XfrCalls {
  const get = (s: HostPort): Primary => {
    const p = primaries[s.port];
    if (!p || p.down) throw new PldnsError('XFR_FAILED', `127.0.0.1:${s.port} down`);
    return p;
  };
  return {
    async querySoa(s) {
      const p = get(s);
      log.push(`soa ${s.port}`);
      return { ...parseSoa(soa(p.serial).data)!, serial: p.serial };
    },
    async transferZone(s, _zone, opts): Promise<TransferResult> {
      const p = get(s);
      if (opts.currentSerial !== undefined) {
        log.push(`ixfr ${s.port} from ${opts.currentSerial}`);
        if (p.ixfr === 'bad') {
          return { kind: 'ixfr', fromSerial: opts.currentSerial, serial: p.serial, changes: [{ fromSerial: opts.currentSerial + 999, toSerial: p.serial, removed: [], added: [], fromSoa: soa(opts.currentSerial + 999), toSoa: soa(p.serial) }] };
        }
        return { kind: 'axfr', serial: p.serial, records: records(p) };
      }
      log.push(`axfr ${s.port}`);
      return { kind: 'axfr', serial: p.serial, records: records(p) };
    },
  };
}

function edge(primaries: Record<number, Primary>, over: Partial<PrimariesConfig> = {}, store?: ZoneStore, extra: { calls?: XfrCalls; notifyCheckIntervalMs?: number; nowMs?: () => number; slicer?: Slicer } = {}) {
  const log: string[] = [];
  const zones: PolicyZone[] = [];
  const answers: string[][] = [];
  const counts = { changed: 0, unchanged: 0, failed: 0 };
  const refused: string[] = [];
  const secondary = new Secondary({
    config: config(over),
    calls: extra.calls ?? scripted(primaries, log),
    store,
    notifyCheckIntervalMs: extra.notifyCheckIntervalMs ?? 0,
    ...(extra.nowMs ? { nowMs: extra.nowMs } : {}),
    observer: { checked: (r) => counts[r]++, transferred: () => {}, serial: () => {}, refused: (r) => refused.push(r) },
    logger: createLogger('silent'),
    onZone: (zone, table) => {
      zones.push(zone);
      answers.push(table.inputs.flatMap((i) => i.ipv4));
    },
    ...(extra.slicer ? { slicer: extra.slicer } : {}),
  });
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  };
  return { secondary, log, zones, answers, counts, refused, settle };
}

t.test('first check: SOA then AXFR from the first primary; the table follows the zone', async (t) => {
  const e = edge({ 1: { serial: 100, ip: '10.0.0.1' } });
  await e.secondary.start();
  await e.settle();
  t.same(e.log, ['soa 1', 'axfr 1']);
  t.same(e.answers, [['10.0.0.1']]);
  t.same(e.counts, { changed: 1, unchanged: 0, failed: 0 });
  t.same(e.secondary.notReadyReasons(Date.now()), []);
  await e.secondary.stop();
});

t.test('failover: a primary that is down is skipped; all down keeps the zone and says why', async (t) => {
  const primaries: Record<number, Primary> = { 1: { serial: 100, ip: '10.0.0.1', down: true }, 2: { serial: 100, ip: '10.0.0.2' } };
  const e = edge(primaries);
  await e.secondary.start();
  await e.settle();
  t.same(e.log, ['soa 2', 'axfr 2'], 'the second primary served');
  primaries[2].down = true;
  e.secondary.checkNow('test');
  await e.settle();
  t.equal(e.counts.failed, 1);
  t.same(e.answers.at(-1), ['10.0.0.2'], 'the zone is kept');
  t.match(e.secondary.status(), { serial: 100, consecutiveFailures: 1, lastCheck: { result: 'failed' } });
  t.same(e.secondary.notReadyReasons(Date.now()), [], 'not stale yet');
  t.match(e.secondary.notReadyReasons(Date.now() + 120_000)[0], /over primaries.max_stale/);
  await e.secondary.stop();
});

t.test('a newer serial brings an IXFR; one that does not apply falls back to AXFR', async (t) => {
  const primaries: Record<number, Primary> = { 1: { serial: 100, ip: '10.0.0.1' } };
  const e = edge(primaries);
  await e.secondary.start();
  await e.settle();
  primaries[1] = { serial: 101, ip: '10.0.0.9', ixfr: 'bad' };
  e.secondary.checkNow('test');
  await e.settle();
  t.same(e.log, ['soa 1', 'axfr 1', 'soa 1', 'ixfr 1 from 100', 'axfr 1']);
  t.same(e.answers.at(-1), ['10.0.0.9']);
  e.secondary.checkNow('again');
  await e.settle();
  t.same(e.log.slice(5), ['soa 1'], 'same serial: nothing transferred');
  await e.secondary.stop();
});

t.test('a primary behind the zone we hold is not followed backwards', async (t) => {
  const primaries: Record<number, Primary> = { 1: { serial: 200, ip: '10.0.0.1' }, 2: { serial: 150, ip: '10.0.0.2' } };
  const e = edge(primaries);
  await e.secondary.start();
  await e.settle();
  primaries[1].down = true;
  e.secondary.checkNow('test');
  await e.settle();
  t.same(e.log, ['soa 1', 'soa 2', 'axfr 1', 'soa 2'], 'every primary is asked; hub 2 is older: no transfer');
  t.same(e.answers, [['10.0.0.1']]);
  t.equal(e.counts.unchanged, 1);
  await e.secondary.stop();
});

t.test('NOTIFY: only for our zone, only from a primary, signed when we have a key', async (t) => {
  const e = edge({ 1: { serial: 100, ip: '10.0.0.1' } }, { key: { name: 'fleet', algorithm: 'hmac-sha256', secret: Buffer.alloc(32) } });
  await e.secondary.start();
  await e.settle();
  t.equal(e.secondary.notified('other.rpz', { address: '127.0.0.1', port: 1 }, 'fleet'), 'unknown-zone');
  t.equal(e.secondary.notified(ORIGIN, { address: '127.0.0.9', port: 1 }, 'fleet'), 'refused');
  t.equal(e.secondary.notified(ORIGIN, { address: '127.0.0.1', port: 1 }, undefined), 'notauth');
  t.same(e.log, ['soa 1', 'axfr 1'], 'none of those triggered a check');
  t.equal(e.secondary.notified(ORIGIN, { address: '::ffff:127.0.0.1', port: 1 }, 'fleet'), 'accepted');
  await e.settle();
  t.same(e.log, ['soa 1', 'axfr 1', 'soa 1'], 'an accepted NOTIFY checks at once');
  await e.secondary.stop();
});

t.test('NOTIFY coalescing: replayed NOTIFYs start at most one check per interval, none while one is in flight', async (t) => {
  const INTERVAL_MS = 300;
  // The secondary's clock stands still: every replay falls inside the interval after the last check.
  const frozen = Date.now();
  const e = edge({ 1: { serial: 100, ip: '10.0.0.1' } }, {}, undefined, { notifyCheckIntervalMs: INTERVAL_MS, nowMs: () => frozen });
  await e.secondary.start();
  await e.settle();
  t.same(e.log, ['soa 1', 'axfr 1']);
  const from = { address: '127.0.0.1', port: 53 };
  // 5,000 replays right after the start check: all accepted, one check when the interval ends.
  const verdicts = new Set<string>();
  for (let i = 0; i < 5000; i++) verdicts.add(e.secondary.notified(ORIGIN, from, undefined));
  t.same([...verdicts], ['accepted'], 'every replay is accepted (and counted as such)');
  await e.settle();
  t.same(e.log, ['soa 1', 'axfr 1'], 'no check inside the interval after the last one started');
  for (let i = 0; i < 40 && e.log.length < 3; i++) await new Promise((r) => setTimeout(r, INTERVAL_MS / 4));
  await e.settle();
  t.same(e.log, ['soa 1', 'axfr 1', 'soa 1'], 'the replays became exactly one check at the end of the interval');
  // More replays, over several intervals: never more than one check started per interval.
  const starts: number[] = [];
  const calls = scripted({ 1: { serial: 100, ip: '10.0.0.1' } }, e.log);
  // One primary: every primary's SOA is asked at each check, and this counts checks.
  const e2 = edge({}, { servers: [server(1)] }, undefined, {
    notifyCheckIntervalMs: INTERVAL_MS,
    calls: {
      ...calls,
      querySoa: async (s, z, o) => {
        starts.push(Date.now());
        // A slow primary: the check is still in flight when the next replays come.
        await new Promise((r) => setTimeout(r, INTERVAL_MS / 2));
        return calls.querySoa(s, z, o);
      },
    },
  });
  await e2.secondary.start();
  for (let round = 0; round < 8; round++) {
    for (let i = 0; i < 500; i++) e2.secondary.notified(ORIGIN, from, undefined);
    await new Promise((r) => setTimeout(r, INTERVAL_MS / 3));
  }
  await e2.secondary.stop();
  t.ok(starts.length >= 2, `the replays did start checks (${starts.length})`);
  for (let i = 1; i < starts.length; i++) {
    t.ok((starts[i] as number) - (starts[i - 1] as number) >= INTERVAL_MS - 5, `check ${i} started at least one interval after the one before`);
  }
  await e.secondary.stop();
});

t.test('stop abandons the check in flight: the call gets an aborted signal, stop returns, no failure is counted', async (t) => {
  let signal: AbortSignal | undefined;
  const hanging: XfrCalls = {
    querySoa: (_s, _z, o) =>
      new Promise((_resolve, reject) => {
        signal = o.signal;
        // A primary that never answers (the real client's own deadline is far away).
        o.signal?.addEventListener('abort', () => reject(new PldnsError('XFR_FAILED', 'abandoned: shutting down')));
      }),
    transferZone: () => Promise.reject(new Error('not reached')),
  };
  const e = edge({}, {}, undefined, { calls: hanging });
  await e.secondary.start();
  await e.settle();
  t.ok(signal, 'the SOA query carries an abort signal');
  t.equal(signal?.aborted, false);
  await e.secondary.stop();
  t.equal(signal?.aborted, true, 'stop aborted it');
  t.same(e.counts, { changed: 0, unchanged: 0, failed: 0 }, 'an abandoned check is not a failure of the primaries');
});

t.test('boot with every primary down: the saved zone is answered; it is saved after each transfer', async (t) => {
  const saved: PolicyZone[] = [];
  const store: ZoneStore = {
    load: async () => ({ zone: { origin: ORIGIN, serial: 90, records: zoneAt(90, '10.0.0.5').slice(0, 3) }, savedAtMs: Date.now() - 1000 }),
    save: async (z) => void saved.push(z),
  };
  const e = edge({ 1: { serial: 100, ip: '10.0.0.1', down: true } }, { servers: [server(1)] }, store);
  await e.secondary.start();
  t.same(e.answers, [['10.0.0.5']], 'answered before any check');
  await e.settle();
  t.equal(e.counts.failed, 1);
  t.same(e.secondary.notReadyReasons(Date.now()), [], 'ready: the saved zone is younger than max_stale');
  t.same(saved, [], 'a zone loaded from disk is not written back');
  await e.secondary.stop();
  const e2 = edge({ 1: { serial: 100, ip: '10.0.0.1' } }, { servers: [server(1)] }, store);
  await e2.secondary.start();
  await e2.settle();
  t.equal(saved.length, 1);
  t.equal(saved[0]?.serial, 100);
  await e2.secondary.stop();
});

t.test('the freshest primary wins, whatever order they are listed in', async (t) => {
  const primaries: Record<number, Primary> = { 1: { serial: 100, ip: '10.0.0.1' }, 2: { serial: 300, ip: '10.0.0.2' }, 3: { serial: 200, ip: '10.0.0.3' } };
  const e = edge(primaries, { servers: [server(1), server(2), server(3)] });
  await e.secondary.start();
  await e.settle();
  t.same(e.log, ['soa 1', 'soa 2', 'soa 3', 'axfr 2'], 'every SOA asked, the highest serial transferred');
  t.same(e.answers, [['10.0.0.2']]);
  // The first-listed primary catches up past the others: it is taken next, by IXFR from ours.
  primaries[1] = { serial: 400, ip: '10.0.0.4' };
  e.secondary.checkNow('test');
  await e.settle();
  t.same(e.log.slice(4), ['soa 1', 'soa 2', 'soa 3', 'ixfr 1 from 300']);
  t.same(e.answers.at(-1), ['10.0.0.4']);
  await e.secondary.stop();
});

const A = (name: string, ip: string): ZoneRecord => ({ name: `${name}.${ORIGIN}`, type: RRType.A, ttl: 30, data: ip });

t.test('a zone a key holder sends is judged before it is answered; the old zone stays', async (t) => {
  const primaries: Record<number, Primary> = { 1: { serial: 100, ip: '10.0.0.1' } };
  const e = edge(primaries, { servers: [server(1)] });
  await e.secondary.start();
  await e.settle();
  t.same(e.answers, [['10.0.0.1']]);
  const refusals: string[] = [];
  const attempt = async (body: ZoneRecord[], serial: number): Promise<string> => {
    primaries[1] = { serial, ip: '', body };
    e.secondary.checkNow('test');
    await e.settle();
    const status = e.secondary.status() as { serial: number; lastRefusal: { reason: string } | null };
    refusals.push(status.lastRefusal?.reason ?? '');
    return `${status.serial}`;
  };
  t.equal(await attempt([], 101), '100', 'SOA only: refused');
  t.match(refusals.at(-1), /no names/);
  t.equal(await attempt([A('svc.example.com', '100.100.9.9')], 102), '100', 'an address in 100.64.0.0/10: refused');
  t.match(refusals.at(-1), /100\.100\.9\.9/);
  t.equal(await attempt([A('*.com', '10.9.9.9'), A('svc.example.com', '10.0.0.1')], 103), '100', 'a wildcard above a managed name: refused');
  t.match(refusals.at(-1), /wildcard \*\.com/);
  t.equal(await attempt([A('www.google.com', '6.6.6.6')], 104), '100', 'nothing under primaries.managed: refused');
  t.same(e.answers, [['10.0.0.1']], 'none of those was ever answered');
  t.same(e.refused, ['empty', 'address', 'wildcard', 'empty'], 'each refusal counted with its reason');
  t.equal(e.counts.failed, 0, 'not failed checks: the primary answered, and the zone we hold is still the best');
  e.secondary.checkNow('again');
  await e.settle();
  const transfers = e.log.filter((l) => /^(axfr|ixfr)/.test(l)).length;
  e.secondary.checkNow('once more');
  await e.settle();
  t.equal(e.log.filter((l) => /^(axfr|ixfr)/.test(l)).length, transfers, 'a refused serial is not transferred again from the same primary');
  // Out-of-suffix names beside managed ones: the managed ones are taken, the others left out.
  t.equal(await attempt([A('svc.example.com', '10.0.0.5'), A('www.google.com', '6.6.6.6')], 105), '105');
  t.same(e.answers.at(-1), ['10.0.0.5'], 'only the managed name is in the table');
  await e.secondary.stop();
});

t.test('max_records and max_drop; SIGUSR2 (retransfer) takes a large removal and any serial', async (t) => {
  const many = (n: number): ZoneRecord[] => Array.from({ length: n }, (_, i) => A(`n${i}.example.com`, `10.1.0.${i + 1}`));
  const primaries: Record<number, Primary> = { 1: { serial: 100, ip: '', body: many(10) } };
  const e = edge(primaries, { servers: [server(1)], maxRecords: 20 });
  await e.secondary.start();
  await e.settle();
  t.equal(e.answers.at(-1)?.length, 10);
  primaries[1] = { serial: 101, ip: '', body: many(30) };
  e.secondary.checkNow('test');
  await e.settle();
  t.match((e.secondary.status() as { lastRefusal: { reason: string } }).lastRefusal.reason, /over primaries.max_records/);
  t.equal(e.answers.length, 1, 'over max_records: not installed');
  primaries[1] = { serial: 102, ip: '', body: many(4) };
  e.secondary.checkNow('test');
  await e.settle();
  t.match((e.secondary.status() as { lastRefusal: { reason: string } }).lastRefusal.reason, /remove 6 of 10 names/);
  t.equal(e.answers.length, 1, 'removing 60% at once: not installed');
  e.secondary.retransfer();
  await e.settle();
  t.equal(e.answers.at(-1)?.length, 4, 'forced: taken');
  t.equal(e.log.at(-1), 'axfr 1', 'a forced check transfers the whole zone');
  // A serial far below ours (a primary restored after another pushed it up) is taken only when forced.
  primaries[1] = { serial: 50, ip: '', body: many(5) };
  e.secondary.checkNow('test');
  await e.settle();
  t.equal(e.answers.at(-1)?.length, 4, 'a lower serial is not followed');
  e.secondary.retransfer();
  await e.settle();
  t.equal((e.secondary.status() as { serial: number }).serial, 50, 'forced: the freshest primary\'s zone, whatever its serial');
  await e.secondary.stop();
});

t.test('a zone at max_records is installed over many turns of the event loop, no slice over its bound', async (t) => {
  // 33,000 names, one address each and a second for every odd one: 49,500 A records, plus SOA and NS.
  const names = 33_000;
  const body: ZoneRecord[] = [A('svc.example.com', '10.0.0.1')];
  for (let i = 0; i < names; i++) {
    body.push(A(`n${String(i).padStart(5, '0')}.bulk.example.com`, `10.${(i >> 8) & 255}.${i & 255}.1`));
    if (i % 2 === 1) body.push(A(`n${String(i).padStart(5, '0')}.bulk.example.com`, `10.200.${(i >> 8) & 255}.${i & 255}`));
  }
  const records = body.length + 2;
  t.ok(records <= 50_000, `${records} records: at the default bound`);
  // Units only (no clock): the slices are the same on an idle and on a loaded machine.
  const limits = { maxUnits: 1000, maxMs: Number.POSITIVE_INFINITY };
  const units: number[] = [];
  const primaries: Record<number, Primary> = { 1: { serial: 100, ip: '10.0.0.1' } };
  const e = edge(primaries, { servers: [server(1)] }, undefined, { slicer: new Slicer(limits, (u) => units.push(u)) });
  await e.secondary.start();
  await e.settle();
  t.equal(units.length, 2, 'a small zone: its assembly and its table inputs each done in one slice, no turn waited for');

  primaries[1] = { serial: 101, ip: '', body };
  units.length = 0;
  let turns = 0;
  let turnsAtTable = -1;
  let installing = true;
  const tick = (): void => {
    turns++;
    if (installing && turns < 1_000_000) setImmediate(tick);
  };
  setImmediate(tick);
  const checks = e.counts.changed + e.counts.unchanged + e.counts.failed;
  const installed = new Promise<void>((resolve) => {
    const check = (): void => {
      if (e.counts.changed + e.counts.unchanged + e.counts.failed > checks) {
        turnsAtTable = turns;
        resolve();
      } else if (turns < 1_000_000) setImmediate(check);
    };
    check();
  });
  e.secondary.checkNow('test');
  await installed;
  installing = false;
  t.equal((e.secondary.status() as { serial: number }).serial, 101, 'installed');
  t.equal(e.answers[1]?.length, 49_501, 'every address taken');
  const total = units.reduce((a, b) => a + b, 0);
  const largest = Math.max(...units);
  // A unit is a record (or an input with its addresses, at most 3 here) through one pass.
  t.ok(largest <= limits.maxUnits + 2, `no slice handles more than ${limits.maxUnits} records (largest ${largest})`);
  t.ok(total >= 4 * records, `each record went through assembly, conversion and the guard (${total} units)`);
  t.ok(units.length >= Math.floor(total / (limits.maxUnits + 2)), `${units.length} slices`);
  t.ok(turnsAtTable >= units.length - 3, `the event loop turned ${turnsAtTable} times before the table was handed over (${units.length} slices)`);
  t.equal(e.zones.length, 2, 'the table is handed over once, whole');
  await e.secondary.stop();
});

t.test('the zone becomes the edge\'s (serial, status) only once its table answers', async (t) => {
  const primaries: Record<number, Primary> = { 1: { serial: 100, ip: '10.0.0.1' } };
  const seen: number[] = [];
  let release: () => void = () => {};
  const secondary: Secondary = new Secondary({
    config: config({ servers: [server(1)] }),
    calls: scripted(primaries, []),
    store: undefined,
    observer: { checked: () => {}, transferred: () => {}, serial: (s) => seen.push(s), refused: () => {} },
    logger: createLogger('silent'),
    onZone: (zone) => {
      if (zone.serial === 100) return;
      // The composer builds the table meanwhile: the old zone is still the one reported.
      t.equal((secondary.status() as { serial: number }).serial, 100, 'status keeps the old serial while the table is built');
      return new Promise<void>((resolve) => {
        release = resolve;
      });
    },
  });
  await secondary.start();
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  primaries[1] = { serial: 101, ip: '10.0.0.2' };
  secondary.checkNow('test');
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  t.same(seen, [100], 'the serial metric waits for the table');
  release();
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  t.same(seen, [100, 101]);
  t.equal((secondary.status() as { serial: number }).serial, 101);
  await secondary.stop();
});
