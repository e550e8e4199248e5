import type { TableEntryInput } from '../resolve/table';
import { DEFAULT_TRANSFER_ZONE, buildPolicyZone, withSerial, zoneDigest } from '../fleet/zone/policy-zone';
import { nextSerial } from '../fleet/zone/serial';
import { renderZoneFile } from '../fleet/zone/zone-file';
import { headerLines, type ExportModel, type ExportOptions } from './model';

/**
 * The response policy zone a hub publishes (zone/policy-zone.ts), as a zone file: for BIND
 * `response-policy`, Unbound `rpz:`, PowerDNS Recursor or Knot Resolver loading it from disk.
 * The serial is the hub's when the content is what it last published (previousSerial), else the
 * export time, so a later export of changed data always has a higher serial.
 */
export function renderRpz(model: ExportModel, opts: ExportOptions): string {
  const origin = opts.zone ?? DEFAULT_TRANSFER_ZONE;
  const inputs: TableEntryInput[] = [
    ...[...model.exact].map(([name, a]) => ({ id: name, names: [name], ipv4: a.ipv4, ipv6: a.ipv6 })),
    ...[...model.wildcards].map(([base, a]) => ({ id: `*.${base}`, names: [`*.${base}`], ipv4: a.ipv4, ipv6: a.ipv6 })),
  ];
  const onUnavailable = opts.onUnavailable ?? 'servfail';
  const built = buildPolicyZone(inputs, { origin, ttlS: opts.ttl, onUnavailable });
  const nowSec = Math.floor((opts.generatedAt ?? new Date()).getTime() / 1000);
  const zone = withSerial(built.zone, nextSerial(opts.previousSerial, zoneDigest(built.zone), nowSec));
  const action = onUnavailable === 'forward' ? 'rpz-passthru (on_unavailable: forward)' : 'rpz-drop (on_unavailable: servfail)';
  const notes = [
    `Response policy zone ${zone.origin}, serial ${zone.serial}. Load it as a primary zone and list it in`,
    `your resolver's policy (BIND: response-policy { zone "${zone.origin}"; } max-policy-ttl ${Math.max(opts.ttl, 1)};`,
    'Unbound: rpz: with zonefile:). BIND caps policy answer TTLs at max-policy-ttl, a few seconds by default.',
    `A name without a usable address is CNAME ${action}:`,
    'never left out, so it is never resolved to the public 100.64/10 answer.',
    'Fleet hubs publish the same zone by AXFR/IXFR.',
    ...built.problems.map((p) => `not published: ${p}`),
  ];
  const header = headerLines(';', 'rpz', model, opts, notes).map((l) => l.replace(/^; ?/, ''));
  return renderZoneFile(zone, header.slice(0, -1));
}
