import { loadZoneState, saveZoneState } from '../zone/zone-state';
import type { ZoneStore } from './secondary';

/** The edge's last zone in state_dir (one file per zone name, written atomically). */
export function zoneStore(dir: string): ZoneStore {
  return {
    load: (origin) => loadZoneState(dir, origin),
    save: (zone) => saveZoneState(dir, zone),
  };
}
