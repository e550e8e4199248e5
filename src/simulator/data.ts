/**
 * Validation of simulator data (`--data FILE`, `PUT /_simulator/state`). Unknown keys are errors,
 * like in the daemon's config: a misspelt `EniIP` would otherwise silently serve no address.
 */
import { readFile } from 'node:fs/promises';
import { isIPv4, isIPv6 } from 'node:net';
import type { SimEndpoint, SimZone, SimulatorData } from './types';

const ENDPOINT_STRING_FIELDS = [
  'EndpointId', 'EndpointName', 'EndpointDomain', 'EndpointStatus', 'ConnectionStatus', 'EndpointBusinessStatus',
  'EndpointType', 'ServiceId', 'ServiceName', 'VpcId', 'RegionId', 'CreateTime',
] as const;
const ZONE_STRING_FIELDS = ['ZoneId', 'ZoneDomain', 'EniId', 'EniIp', 'ZoneIpv6Address', 'VSwitchId', 'ZoneStatus'] as const;

export class SimulatorDataError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid simulator data: ${problems.join('; ')}`);
    this.name = 'SimulatorDataError';
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function copyStrings(
  source: Record<string, unknown>,
  fields: readonly string[],
  path: string,
  problems: string[],
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const field of fields) {
    const value = source[field];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string') problems.push(`${path}.${field}: must be a string`);
    else out[field] = value;
  }
  return out;
}

function validateZone(value: unknown, path: string, problems: string[]): SimZone | undefined {
  if (!isObject(value)) {
    problems.push(`${path}: must be an object`);
    return undefined;
  }
  for (const key of Object.keys(value)) {
    if (!(ZONE_STRING_FIELDS as readonly string[]).includes(key)) problems.push(`${path}.${key}: unknown field`);
  }
  const zone = copyStrings(value, ZONE_STRING_FIELDS, path, problems);
  if (!zone.ZoneId) problems.push(`${path}.ZoneId: required`);
  if (zone.EniIp !== undefined && !isIPv4(zone.EniIp)) problems.push(`${path}.EniIp: not an IPv4 address`);
  if (zone.ZoneIpv6Address !== undefined && !isIPv6(zone.ZoneIpv6Address)) problems.push(`${path}.ZoneIpv6Address: not an IPv6 address`);
  return zone as unknown as SimZone;
}

function validateEndpoint(value: unknown, path: string, problems: string[]): SimEndpoint | undefined {
  if (!isObject(value)) {
    problems.push(`${path}: must be an object`);
    return undefined;
  }
  for (const key of Object.keys(value)) {
    if (key !== 'Zones' && !(ENDPOINT_STRING_FIELDS as readonly string[]).includes(key)) problems.push(`${path}.${key}: unknown field`);
  }
  const endpoint = copyStrings(value, ENDPOINT_STRING_FIELDS, path, problems);
  if (!endpoint.EndpointId) problems.push(`${path}.EndpointId: required`);
  const zonesValue = value.Zones ?? [];
  const zones: SimZone[] = [];
  if (!Array.isArray(zonesValue)) problems.push(`${path}.Zones: must be an array`);
  else {
    zonesValue.forEach((z, i) => {
      const zone = validateZone(z, `${path}.Zones[${i}]`, problems);
      if (zone) zones.push(zone);
    });
  }
  return { ...(endpoint as unknown as SimEndpoint), Zones: zones };
}

/** A checked deep copy of `value`; throws SimulatorDataError listing every problem. */
export function validateSimulatorData(value: unknown): SimulatorData {
  const problems: string[] = [];
  if (!isObject(value)) throw new SimulatorDataError(['top level: must be an object {"endpoints": [...]}']);
  for (const key of Object.keys(value)) if (key !== 'endpoints') problems.push(`${key}: unknown field`);
  if (!Array.isArray(value.endpoints)) throw new SimulatorDataError([...problems, 'endpoints: must be an array']);
  const endpoints: SimEndpoint[] = [];
  const seen = new Set<string>();
  value.endpoints.forEach((e, i) => {
    const endpoint = validateEndpoint(e, `endpoints[${i}]`, problems);
    if (!endpoint) return;
    if (seen.has(endpoint.EndpointId)) problems.push(`endpoints[${i}].EndpointId: duplicate ${endpoint.EndpointId}`);
    seen.add(endpoint.EndpointId);
    endpoints.push(endpoint);
  });
  if (problems.length > 0) throw new SimulatorDataError(problems);
  return { endpoints };
}

/** Reads and validates a JSON data file. */
export async function loadSimulatorData(file: string): Promise<SimulatorData> {
  const text = await readFile(file, 'utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new SimulatorDataError([`${file}: not JSON (${(err as Error).message})`]);
  }
  return validateSimulatorData(parsed);
}
