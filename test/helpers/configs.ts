/** The config fixtures many tests start from, one of each. */

/** `records:` holding one static entry, ntp.internal.example → 10.0.0.123, as one YAML line. */
export const STATIC_RECORDS_YAML = 'records: { entries: [ { names: ["ntp.internal.example"], addresses: ["10.0.0.123"] } ] }\n';

/** The least a valid config holds: a region and that static entry, no state (config tests append to it). */
export const STATIC_BASE_YAML = `region: cn-hangzhou\n${STATIC_RECORDS_YAML}state_dir: false\n`;

/** A config with one static entry and nothing else (no upstreams, no sync, no state), DNS and HTTP on port 0. */
export const STATIC_ONLY_CONFIG = `${STATIC_BASE_YAML}listen: { dns: ["127.0.0.1:0"], http: "127.0.0.1:0" }\nupstream: { servers: [] }\n`;
