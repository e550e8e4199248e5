import type { TableEntryInput } from '../resolve/table';
import { DEFAULT_TRANSFER_ZONE, buildPolicyZone, withSerial, zoneDigest } from '../fleet/zone/policy-zone';
import { nextSerial, serialForData } from '../fleet/zone/serial';
import { renderZoneFile } from '../fleet/zone/zone-file';
import { headerLines, type ExportModel, type ExportOptions } from './model';

/**
 * The response policy zone a hub publishes (zone/policy-zone.ts), as a zone file: for BIND
 * `response-policy`, Unbound `rpz:`, PowerDNS Recursor or Knot Resolver loading it from disk.
 * Serial and SOA timers are the hub's for the same content: the SOA carries transfer.soa's timers
 * (or the hub's defaults), and from a snapshot the serial follows the hub's rule on the snapshot's
 * data time (serialForData) with what the hub last published (previousSerial) as its memory. From
 * a live sync (no data time) the serial is the hub's for unchanged content, else the export time
 * or previous + 1, so a later export of changed data always has a higher serial.
 */
export function renderRpz(model: ExportModel, opts: ExportOptions): string {
  const origin = opts.zone ?? DEFAULT_TRANSFER_ZONE;
  const inputs: TableEntryInput[] = [
    ...[...model.exact].map(([name, a]) => ({ id: name, names: [name], ipv4: a.ipv4, ipv6: a.ipv6 })),
    ...[...model.wildcards].map(([base, a]) => ({ id: `*.${base}`, names: [`*.${base}`], ipv4: a.ipv4, ipv6: a.ipv6 })),
  ];
  const onUnavailable = opts.onUnavailable ?? 'servfail';
  const built = buildPolicyZone(inputs, { origin, ttlS: opts.ttl, onUnavailable, ...(opts.soaTimers ? { timers: opts.soaTimers } : {}) });
  const digest = zoneDigest(built.zone);
  const serial = opts.dataFetchedAt
    ? serialForData(opts.previousSerial, digest, Math.floor(opts.dataFetchedAt.getTime() / 1000))
    : nextSerial(opts.previousSerial, digest, Math.floor((opts.generatedAt ?? new Date()).getTime() / 1000));
  const zone = opts.received ?? withSerial(built.zone, serial);
  const action = onUnavailable === 'forward' ? 'rpz-passthru (on_unavailable: forward)' : 'rpz-drop (on_unavailable: servfail)';
  const notes = [
    `Response policy zone ${zone.origin}, serial ${zone.serial}. Load it as a primary zone and list it in`,
    `your resolver's policy (BIND: response-policy { zone "${zone.origin}"; } max-policy-ttl ${Math.max(opts.ttl, 1)};`,
    'Unbound: rpz: with zonefile:). BIND caps policy answer TTLs at max-policy-ttl, a few seconds by default.',
    `A name without a usable address is CNAME ${action}:`,
    'never left out, so it is never resolved to the public 100.64/10 answer.',
    opts.received ? 'This is the zone as this edge received it from its primaries.' : 'Fleet hubs publish the same zone by AXFR/IXFR.',
    ...built.problems.map((p) => `not published: ${p}`),
  ];
  const header = headerLines(';', 'rpz', model, opts, notes).map((l) => l.replace(/^; ?/, ''));
  return renderZoneFile(zone, header.slice(0, -1));
}
