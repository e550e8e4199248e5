import t, { type Test } from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderExport } from '../../src/export';
import {
  CS, EPSRV, EPSRV_API, INPUTS, OPTS, OSS, REGISTRY, TTL, UPSTREAM_A, dig, freePort, sortedData, startBounded, startFakeUpstream, waitForDns,
} from '../helpers/export-fixture';
import { requireTool } from '../helpers/tools';

/**
 * The exported policy zone loaded by a real BIND as `response-policy`: what the SPEC promises a
 * data-center resolver that takes the zone (by file here, by transfer in fleet mode). Managed names
 * are answered from the zone and never reach the upstream; a name without an address is dropped
 * (rpz-drop) or resolved normally (rpz-passthru, on_unavailable: forward).
 */

function namedConf(dir: string, port: number, upstreamPort: number): string {
  return `options {
  directory "${dir}";
  pid-file none;
  session-keyfile "${dir}/session.key";
  managed-keys-directory "${dir}";
  listen-on port ${port} { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion yes;
  allow-query { 127.0.0.1; };
  allow-recursion { 127.0.0.1; };
  forwarders { 127.0.0.1 port ${upstreamPort}; };
  forward only;
  dnssec-validation no;
  notify no;
  # Without max-policy-ttl BIND 9.18 caps policy answers at a TTL of 5; the export's header says so.
  response-policy { zone "privatelink.rpz"; } qname-wait-recurse no max-policy-ttl 1d;
};
controls { };
zone "privatelink.rpz" { type primary; file "${dir}/privatelink.rpz.zone"; allow-query { none; }; };
`;
}

async function startNamed(t: Test, onUnavailable: 'servfail' | 'forward'): Promise<{ port: number; seen: string[] }> {
  requireTool('named');
  requireTool('dig');
  const upstream = await startFakeUpstream();
  t.teardown(upstream.close);
  const dir = t.testdir({ 'privatelink.rpz.zone': renderExport('rpz', INPUTS, { ...OPTS, onUnavailable }) });
  const port = await freePort();
  writeFileSync(join(dir, 'named.conf'), namedConf(dir, port, upstream.port));
  const named = startBounded('named', ['-g', '-4', '-c', join(dir, 'named.conf')], 60);
  t.teardown(named.stop);
  if (!(await waitForDns(port, 'probe.example.org', 15_000))) throw new Error(`named did not start: ${named.output()}`);
  upstream.seen.length = 0;
  return { port, seen: upstream.seen };
}

t.test('BIND response-policy answers managed names from the zone, never upstream', async (t) => {
  const { port, seen } = await startNamed(t, 'servfail');
  const a = await dig(port, CS, 'A');
  t.equal(a.status, 'NOERROR');
  t.same(sortedData(a, 'A'), ['10.0.1.10', '10.0.2.10']);
  t.same(a.answers.map((x) => x.ttl), [TTL, TTL], 'with records.ttl');
  const aaaa = await dig(port, CS, 'AAAA');
  t.same([aaaa.status, aaaa.answers.length], ['NOERROR', 0], 'AAAA of an IPv4-only name: NODATA');
  t.same(sortedData(await dig(port, OSS, 'AAAA'), 'AAAA'), ['fd00:0:0:1::20']);
  t.same(sortedData(await dig(port, `bucket-1.${OSS}`, 'A'), 'A'), ['10.0.1.20'], 'wildcard');
  t.same(sortedData(await dig(port, EPSRV_API, 'A'), 'A'), ['10.0.3.31'], 'an exact name beats the wildcard above it');
  t.same(sortedData(await dig(port, `x.${EPSRV}`, 'A'), 'A'), ['10.0.3.30']);
  const none = await dig(port, REGISTRY, 'A');
  t.ok(none.status.startsWith('NO-RESPONSE'), `rpz-drop: no answer at all (${none.status})`);
  t.same(seen, [], 'no managed name reached the upstream');
  t.same(sortedData(await dig(port, 'www.unmanaged.example.com', 'A'), 'A'), [UPSTREAM_A], 'the rest is resolved normally');
  t.same(sortedData(await dig(port, `x.${CS}`, 'A'), 'A'), [UPSTREAM_A], 'names below an exact name too, as privatelink-dns does');
  t.same(sortedData(await dig(port, EPSRV, 'A'), 'A'), [UPSTREAM_A], 'and a wildcard base that is not itself managed');
  t.same(seen, ['www.unmanaged.example.com/1', `x.${CS}/1`, `${EPSRV}/1`]);
});

t.test('under on_unavailable: forward, a name without an address is resolved normally (rpz-passthru)', async (t) => {
  const { port, seen } = await startNamed(t, 'forward');
  t.same(sortedData(await dig(port, REGISTRY, 'A'), 'A'), [UPSTREAM_A]);
  t.same(seen, [`${REGISTRY}/1`]);
  t.same(sortedData(await dig(port, CS, 'A'), 'A'), ['10.0.1.10', '10.0.2.10'], 'names with addresses still from the zone');
  t.same(seen, [`${REGISTRY}/1`]);
});
