/**
 * Fleet mode's parts (zone hub, zone server, secondary, NOTIFY, TSIG) in one module, so app.ts can
 * load them only when a config has a `transfer` or `primaries` section: a standalone daemon never
 * pays for them.
 */
export { Secondary } from './secondary/secondary';
export { zoneStore } from './secondary/zone-store';
export { xfrCalls } from './secondary/xfr-calls';
export { notifySender } from './primary/notify-sender';
export { ZoneHub } from './primary/zone-hub';
export { ZoneServer } from './primary/zone-server';
export { tsigAuthenticator } from './primary/tsig-auth';
