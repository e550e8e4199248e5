import { RRType } from '../../wire/constants';
import type { ZoneRecord } from '../codec/zone-record';
import { parseSoa } from '../codec/soa';
import { zoneSoa, type PolicyZone } from './policy-zone';

/**
 * A zone as an RFC 1035 master file: $ORIGIN and $TTL, then one record per line with an
 * absolute owner (trailing dot), its TTL and class. Names are written absolute everywhere so the
 * text means the same whatever $ORIGIN a reader assumes.
 */

const TYPE_NAMES: Record<number, string> = {
  [RRType.SOA]: 'SOA', [RRType.NS]: 'NS', [RRType.CNAME]: 'CNAME', [RRType.A]: 'A', [RRType.AAAA]: 'AAAA', [RRType.TXT]: 'TXT',
};

const absolute = (name: string): string => (name === '' ? '.' : `${name}.`);

/** A TXT string: quoted, with `"` and `\` escaped and bytes outside printable ASCII as \DDD. */
function quoteText(text: string): string {
  let out = '"';
  for (const b of Buffer.from(text, 'utf8')) {
    if (b === 0x22 || b === 0x5c) out += `\\${String.fromCharCode(b)}`;
    else if (b < 0x20 || b > 0x7e) out += `\\${String(b).padStart(3, '0')}`;
    else out += String.fromCharCode(b);
  }
  return `${out}"`;
}

function rdata(r: ZoneRecord): string {
  switch (r.type) {
    case RRType.SOA: {
      const f = parseSoa(r.data);
      if (!f) throw new RangeError(`malformed SOA data "${r.data}"`);
      return `${absolute(f.mname)} ${absolute(f.rname)} ${f.serial} ${f.refreshS} ${f.retryS} ${f.expireS} ${f.minimumS}`;
    }
    case RRType.NS:
    case RRType.CNAME:
      return absolute(r.data);
    case RRType.TXT:
      return quoteText(r.data);
    default:
      return r.data;
  }
}

function renderZoneRecord(r: ZoneRecord): string {
  const type = TYPE_NAMES[r.type];
  if (type === undefined) throw new RangeError(`record type ${r.type} cannot be written to a zone file`);
  return `${absolute(r.name)}\t${r.ttl}\tIN\t${type}\t${rdata(r)}`;
}

/** `comments` become `;` lines at the top (one per entry). */
export function renderZoneFile(zone: PolicyZone, comments: readonly string[] = []): string {
  const soa = zoneSoa(zone);
  const lines = comments.map((c) => (c === '' ? ';' : `; ${c.replace(/[\r\n]+/g, ' ')}`));
  lines.push(`$ORIGIN ${absolute(zone.origin)}`, `$TTL ${soa.ttl}`);
  lines.push(renderZoneRecord(soa));
  for (const r of zone.records) if (r !== soa) lines.push(renderZoneRecord(r));
  return `${lines.join('\n')}\n`;
}
