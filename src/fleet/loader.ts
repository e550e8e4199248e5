import { loadZoneState, saveZoneState } from './zone/zone-state';
import type { XfrCalls, ZoneStore } from './secondary/secondary';
import { querySoa, transferZone } from './secondary/xfr-client';

/**
 * Fleet mode's parts (zone hub, zone server, secondary, NOTIFY, TSIG) in one module, so the daemon
 * (daemon/fleet-modules.ts) loads them only when a config has a `transfer` or `primaries` section:
 * a standalone daemon never pays for them. The few lines that bind the parts to their real
 * implementations live here too.
 */
export { Secondary } from './secondary/secondary';
export { notifySender } from './primary/notify-sender';
export { NotifyChannel } from './primary/notify-channel';
export { ZoneHub } from './primary/zone-hub';
export { ZoneServer } from './primary/zone-server';
export { tsigAuthenticator } from './primary/tsig-auth';

/** The edge's last zone in state_dir (one file per zone name, written atomically). */
export function zoneStore(dir: string): ZoneStore {
  return {
    load: (origin) => loadZoneState(dir, origin),
    save: (zone) => saveZoneState(dir, zone),
  };
}

/** The secondary's wire calls, as the real client makes them. */
export const xfrCalls: XfrCalls = { querySoa, transferZone };
