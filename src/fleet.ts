/**
 * Fleet mode's parts (zone hub, zone server, secondary, NOTIFY, TSIG) in one module, so app.ts can
 * load them only when a config has a `transfer` or `primaries` section: a standalone daemon never
 * pays for them.
 */
export { Secondary } from './secondary/secondary';
export { zoneStore } from './secondary/zone-store';
export { xfrCalls } from './secondary/xfr-calls';
export { notifySender } from './transfer/notify-sender';
export { ZoneHub } from './transfer/zone-hub';
export { ZoneServer } from './transfer/zone-server';
export { tsigAuthenticator } from './transfer/tsig-auth';
