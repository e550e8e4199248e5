import { PldnsError } from '../errors';
import type { TableEntryInput } from '../resolve/table';
import { renderBind } from './bind';
import { renderCoredns } from './coredns';
import { renderDnsmasq } from './dnsmasq';
import { renderHosts } from './hosts';
import { buildModel, checkTtl, type ExportModel, type ExportOptions } from './model';
import { renderRpz } from './rpz';
import { renderUnbound } from './unbound';

export type { ExportOptions } from './model';
export { BIND_ZONE_MARKER } from './bind';

export const EXPORT_FORMATS = ['hosts', 'dnsmasq', 'unbound', 'bind', 'coredns', 'rpz'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

const RENDERERS: Record<ExportFormat, (model: ExportModel, opts: ExportOptions) => string> = {
  hosts: renderHosts,
  dnsmasq: renderDnsmasq,
  unbound: renderUnbound,
  bind: renderBind,
  coredns: renderCoredns,
  rpz: renderRpz,
};

export function isExportFormat(value: string): value is ExportFormat {
  return (EXPORT_FORMATS as readonly string[]).includes(value);
}

/**
 * The managed-name table as configuration for another DNS server. Pure: the caller supplies
 * the table (from a snapshot or a sync) and decides what an empty one means (EXPORT_EMPTY).
 */
export function renderExport(format: ExportFormat, inputs: readonly TableEntryInput[], opts: ExportOptions): string {
  if (!isExportFormat(format)) throw new PldnsError('USAGE', `unknown export format "${String(format)}" (expected one of: ${EXPORT_FORMATS.join(', ')})`);
  checkTtl(opts.ttl);
  return RENDERERS[format](buildModel(inputs), opts);
}
