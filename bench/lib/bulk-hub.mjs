// The fleet benches' hub: N static names n00001…nNNNNN.bulk.example publishing privatelink.rpz,
// forwarding to a dead loopback port (nothing under test is forwarded). One generator for the
// transfer, edge-latency and hub-memory benches so their zones are the same.

export const BULK_ZONE = 'privatelink.rpz';

/** The i-th name's addresses (odd names also get a second); `round` > 0 moves the first `changed` names. */
export function bulkAddresses(i, round = 0, changed = 0) {
  const moved = round > 0 && i <= changed ? round : 0;
  return [`10.${(i >> 8) & 255}.${i & 255}.${1 + moved}`, ...(i % 2 ? [`10.200.${(i >> 8) & 255}.${i & 255}`] : [])];
}

/**
 * The hub config. `transfer` is the lines under `transfer:` after the zone (allow, keys),
 * two-space indented; `extra` is more top-level YAML (limits, …).
 */
export function bulkHubYaml({ names, stateDir, deadPort, transfer, extra = '', round = 0, changed = 0 }) {
  const lines = [];
  for (let i = 1; i <= names; i++) {
    lines.push(`    - { names: ["n${String(i).padStart(5, '0')}.bulk.example"], addresses: ${JSON.stringify(bulkAddresses(i, round, changed))} }`);
  }
  return `region: cn-hangzhou
listen: { dns: ["127.0.0.1:0"], http: "127.0.0.1:0" }
access: { allow: ["127.0.0.0/8"], rate_limit: null }
upstream: { servers: ["127.0.0.1:${deadPort}"] }
records:
  ttl: 30
  entries:
${lines.join('\n')}
transfer:
  zone: ${BULK_ZONE}
${transfer}
${extra}state_dir: ${stateDir}
log: { level: info }
`;
}

/** `transfer:` lines admitting only the TSIG key `fleet` with this base64 secret. */
export const keyOnlyTransfer = (secret) => `  allow: ["key:fleet"]
  keys: [{ name: fleet, algorithm: hmac-sha256, secret: "${secret}" }]`;
