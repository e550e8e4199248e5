import t from 'tap';
import { parseConfigText } from '../../../src/config/load';
import { staticEntryState } from '../../../src/privatelink/model';
import { ZonePublisher } from '../../../src/fleet/primary/zone-publisher';
import { SharedMessages } from '../../../src/fleet/primary/shared-messages';
import { axfrRecords, packMessages } from '../../../src/fleet/primary/xfr-messages';
import { createLogger } from '../../../src/runtime/log';
import { fullCollection } from '../../../src/runtime/heap-release';
import { RRType, CLASS_IN } from '../../../src/wire/constants';
import { buildTableInputs } from '../../../src/privatelink/table-builder';
import { AnswerTable } from '../../../src/resolve/table';

/**
 * What a hub holds per published name (issue 26): its config entry, its sync state, the answer
 * table, the published zone with a journal of one change, and the AXFR messages built for it.
 * Measured as the live heap after full collections at two sizes, so fixed costs cancel and the
 * figure is bytes per name, whatever else the machine does. Today ~0.85 KB a name, ~1.7 KB before
 * issue 26's cuts (a frozen copy of every table input, a buffer per record and family, two input
 * sets, address lists with room for 17); the bound is below where the frozen input copies
 * (~0.4 KB a name) coming back, keeping the YAML document (~2 KB a name), or a second copy of the
 * zone or of the config would land.
 */

const ORIGIN = 'privatelink.rpz';

function configText(names: number, moved: number): string {
  const lines: string[] = [];
  for (let i = 1; i <= names; i++) {
    const ips = [`10.${(i >> 8) & 255}.${i & 255}.${i <= moved ? 2 : 1}`, ...(i % 2 ? [`10.200.${(i >> 8) & 255}.${i & 255}`] : [])];
    lines.push(`    - { names: ["n${String(i).padStart(5, '0')}.bulk.example"], addresses: ${JSON.stringify(ips)} }`);
  }
  return `region: cn-hangzhou\nlisten: { dns: ["127.0.0.1:0"] }\nupstream: { servers: ["127.0.0.1:53"] }\ntransfer: { zone: ${ORIGIN}, allow: ["127.0.0.0/8"] }\nrecords:\n  ttl: 30\n  entries:\n${lines.join('\n')}\n`;
}

function liveHeap(): number {
  const gc = fullCollection();
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** Live heap bytes of a hub's data at `names` names (the config texts too, if anything kept them). */
function hubBytes(names: number): { bytes: number; records: number } {
  const before = liveHeap();
  const publisher = new ZonePublisher({
    origin: ORIGIN,
    records: { ttl: 30, preferZones: [], onUnavailable: 'servfail' },
    journal: { maxChanges: 100, maxRecords: 20 * 1000 },
    serials: undefined,
    logger: createLogger('silent'),
    onNewSerial: () => {},
  });
  let config = parseConfigText(configText(names, 0)).config;
  publisher.update((config?.records.entries ?? []).map((e) => (e.kind === 'static' ? staticEntryState(e) : undefined)).filter((s) => s !== undefined), { fetchedAtMs: 1_800_000_000_000 });
  // A reload that moves 1 % of the names: the old config goes, the journal holds the change.
  config = parseConfigText(configText(names, Math.ceil(names / 100))).config;
  const states = (config?.records.entries ?? []).map((e) => (e.kind === 'static' ? staticEntryState(e) : undefined)).filter((s) => s !== undefined);
  publisher.update(states, { fetchedAtMs: 1_800_000_001_000 });
  const zone = publisher.get(ORIGIN);
  if (!zone || !config) throw new Error('nothing published');
  const axfr = new SharedMessages(packMessages({ name: ORIGIN, type: RRType.AXFR, class: CLASS_IN }, axfrRecords(zone.zone)));
  const messages = [...axfr].length;
  // The answer table the hub answers from, built from the same state's inputs as the daemon's.
  const table = AnswerTable.build(buildTableInputs(states, []).inputs);
  const bytes = liveHeap() - before;
  // Kept alive to here: what the hub keeps.
  if (messages === 0 || table.size !== names || states.length !== names || zone.journal.length !== 1 || config.records.entries.length !== names) throw new Error('hub data not built');
  return { bytes, records: zone.zone.records.length };
}

t.test('a hub holds at most 1,100 B per published name (config, state, table, zone, journal, AXFR messages)', async (t) => {
  // A first, small hub: the code and type feedback its build leaves are counted in neither size.
  hubBytes(200);
  const small = hubBytes(2000);
  const large = hubBytes(8000);
  t.ok(large.records > small.records * 3.9, 'the larger hub publishes four times the records');
  const perName = (large.bytes - small.bytes) / 6000;
  t.comment(`live heap: ${(small.bytes / 1048576).toFixed(1)} MB at 2,000 names, ${(large.bytes / 1048576).toFixed(1)} MB at 8,000: ${perName.toFixed(0)} B per name`);
  t.ok(perName > 0, 'the data is measured');
  t.ok(perName <= 1100, `${perName.toFixed(0)} B per name <= 1,100`);
});
