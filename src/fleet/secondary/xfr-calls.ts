import type { XfrCalls } from './secondary';
import { querySoa, transferZone } from './xfr-client';

/** The secondary's wire calls, as the real client makes them. */
export const xfrCalls: XfrCalls = { querySoa, transferZone };
