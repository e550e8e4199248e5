import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dig } from './dig';
import { FLEET_SECRET } from './fleet';
import { startNamed, type NamedInstance } from './named';
import { freePort } from './ports';
import { requireTool } from './tools';
import { startUnbound, type RunningUnbound } from './unbound';

/**
 * The data center's own resolvers taking the hub's policy zone as RPZ secondaries: real BIND 9,
 * Unbound and PowerDNS Recursor on 127.0.0.1, each forwarding every other name to `upstreamPort`.
 * The config text each one runs with is built here and returned, so docs/fleet.md can quote
 * exactly what the tests ran.
 */

export interface ConsumerOptions {
  /** The policy zone to take: privatelink.rpz or a view such as cn-hangzhou-k.privatelink.rpz. */
  readonly zone: string;
  readonly hubPort: number;
  readonly upstreamPort: number;
  /** A port chosen beforehand, so the hub can list it in transfer.notify. */
  readonly port?: number;
}

/**
 * Unbound's rpz: has no TSIG (and its transfers ignore outgoing-interface), so the hub admits
 * 127.0.0.1 unsigned for it; BIND and PowerDNS transfer from this address of their own, which
 * the hub admits only with the key: a transfer they complete was signed.
 */
export const SIGNED_SOURCE = '127.0.0.2';

/** The hubs' records.ttl in the fleet tests (test/helpers/fleet.ts hubYaml): BIND's max-policy-ttl. */
export const POLICY_TTL_S = 30;

/** The named.conf text after `options { }`: the TSIG key and the policy zone as a secondary. */
export function bindZoneConfig(o: ConsumerOptions): string {
  return `key "fleet" {
  algorithm hmac-sha256;
  secret "${FLEET_SECRET}";
};
zone "${o.zone}" {
  type secondary;
  primaries port ${o.hubPort} { 127.0.0.1 key "fleet"; };
  file "${o.zone}.db";
  transfer-source ${SIGNED_SOURCE};
  allow-query { localhost; };
};
`;
}

/** The statements added inside `options { }`: the policy, and forwarding for everything else. */
export function bindOptions(o: ConsumerOptions): string {
  return `response-policy { zone "${o.zone}"; } qname-wait-recurse no min-update-interval 0 max-policy-ttl ${POLICY_TTL_S};
  dnssec-validation no;
  forward only;
  forwarders { 127.0.0.1 port ${o.upstreamPort}; };`;
}

/** A BIND 9 resolver (recursion on) with the hub's zone as its response policy, transferred with TSIG. */
export function startBindRpz(o: ConsumerOptions): Promise<NamedInstance> {
  return startNamed({ config: bindZoneConfig(o), options: bindOptions(o), recursion: true, ...(o.port === undefined ? {} : { port: o.port }) });
}

/** The unbound.conf lines: `server:` additions, then the rpz: and forward-zone: clauses. */
export function unboundRpzConfig(o: ConsumerOptions): { server: string[]; tail: string[] } {
  return {
    server: ['module-config: "respip iterator"'],
    tail: [
      'rpz:',
      `  name: ${o.zone}`,
      `  primary: 127.0.0.1@${o.hubPort}`,
      '  allow-notify: 127.0.0.1',
      `  zonefile: ${o.zone}.zone`,
      'forward-zone:',
      '  name: "."',
      `  forward-addr: 127.0.0.1@${o.upstreamPort}`,
    ],
  };
}

export async function startUnboundRpz(o: ConsumerOptions): Promise<RunningUnbound> {
  const c = unboundRpzConfig(o);
  // zonefile: is relative to the working directory; each instance gets its own.
  const dir = mkdtempSync(join(tmpdir(), 'pldns-unbound-rpz-'));
  const moduleConfig = /"(.*)"/.exec(c.server[0])?.[1] ?? '';
  const options = { moduleConfig, ...(o.port === undefined ? {} : { port: o.port }) };
  const unbound = await startUnbound([`directory: "${dir}"`, ...c.server.slice(1)], c.tail, options);
  return {
    ...unbound,
    stop: async () => {
      await unbound.stop();
      rmSync(dir, { recursive: true, force: true });
      rmSync(unbound.dir, { recursive: true, force: true });
    },
  };
}

/**
 * PowerDNS Recursor's Lua config: the zone from the hub with TSIG. 4.8 acts on no NOTIFY for an
 * RPZ, so `refreshS` sets how often it checks the SOA; and it does not flush its packet cache when
 * the zone changes, so maxTTL (the same figure) bounds how long an old policy answer is served.
 */
export function pdnsRpzLua(o: ConsumerOptions & { refreshS: number }): string {
  return `rpzPrimary("127.0.0.1:${o.hubPort}", "${o.zone}", {
  tsigname = "fleet", tsigalgo = "hmac-sha256", tsigsecret = "${FLEET_SECRET}",
  refresh = ${o.refreshS}, maxTTL = ${o.refreshS}, localAddress = "${SIGNED_SOURCE}"
})
`;
}

/** The recursor.conf settings besides the listening address: forwarding everything else, no DNSSEC. */
export function pdnsSettings(o: ConsumerOptions): string[] {
  return [`forward-zones-recurse=.=127.0.0.1:${o.upstreamPort}`, 'dnssec=off', 'lua-config-file=rpz.lua'];
}

export interface RunningRecursor {
  readonly port: number;
  readonly dir: string;
  log(): string;
  stop(): Promise<void>;
}

/** A real PowerDNS Recursor in the foreground on 127.0.0.1, in its own config dir. */
export async function startPdnsRecursor(o: ConsumerOptions & { refreshS: number }): Promise<RunningRecursor> {
  const bin = requireTool('pdns_recursor');
  const port = o.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'pldns-pdns-'));
  writeFileSync(join(dir, 'rpz.lua'), pdnsRpzLua(o));
  const settings = [
    `local-address=127.0.0.1`, `local-port=${port}`, 'allow-from=127.0.0.0/8', `socket-dir=${dir}`, 'daemon=no', 'write-pid=no',
    'disable-syslog=yes', 'threads=1', 'loglevel=6', 'quiet=no',
    ...pdnsSettings(o).map((s) => s.replace('lua-config-file=rpz.lua', `lua-config-file=${join(dir, 'rpz.lua')}`)),
  ];
  writeFileSync(join(dir, 'recursor.conf'), `${settings.join('\n')}\n`);
  const proc = spawn(bin, [`--config-dir=${dir}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout?.on('data', (d) => (output += d));
  proc.stderr?.on('data', (d) => (output += d));
  const stop = async (): Promise<void> => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      await new Promise((r) => {
        const t = setTimeout(() => { proc.kill('SIGKILL'); r(undefined); }, 5000);
        proc.once('exit', () => { clearTimeout(t); r(undefined); });
      });
    }
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 60; i++) {
    if (proc.exitCode !== null) {
      await stop();
      throw new Error(`pdns_recursor exited: ${output}`);
    }
    const r = await dig(port, 'ready.invalid', 'A', ['+time=1']);
    if (r.status !== 'NO_ANSWER') return { port, dir, log: () => output, stop };
    await new Promise((r2) => setTimeout(r2, 100));
  }
  await stop();
  throw new Error(`pdns_recursor did not start: ${output}`);
}
