import type { ProbeSettings, RecordsConfig } from '../config/schema';
import { entryId } from '../privatelink/model';
import type { SyncState } from '../privatelink/model';
import type { TableEntryInput } from '../resolve/table';

/**
 * Which settings probe an answer-table input: its entry's own `probe`, else records.probe for
 * cloud entries and names received from a hub; a static entry only when it sets `probe`.
 * Input ids are entry ids, `<entry id>/<zone id>` for a zone domain, or a name on an edge.
 */
export function probeSettingsFor(records: RecordsConfig): (input: TableEntryInput) => ProbeSettings | null {
  const global = records.probe ?? null;
  const byEntry = new Map(records.entries.map((e) => [entryId(e), e.probe === undefined ? (e.kind === 'static' ? null : global) : e.probe]));
  return (input) => {
    const slash = input.id.indexOf('/');
    const own = byEntry.get(slash < 0 ? input.id : input.id.slice(0, slash));
    return own === undefined ? global : own;
  };
}

/** The zone of each endpoint IP in the sync state (an edge has none: its zone carries no zone ids). */
export function zonesByIp(state: SyncState | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of state?.entries ?? []) {
    for (const z of e.zones) {
      if (z.eniIp) out.set(z.eniIp, z.zoneId);
      if (z.ipv6) out.set(z.ipv6, z.zoneId);
    }
  }
  return out;
}

/** Changes when anything that decides what is probed, and how, changes (a reload then builds a new prober). */
export function probeConfigKey(records: RecordsConfig): string {
  return JSON.stringify([records.probe, records.entries.map((e) => [entryId(e), e.kind, e.probe])]);
}
