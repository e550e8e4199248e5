import { PldnsError } from '../errors';
import type { TableEntryInput } from '../resolve/table';
import { renderBindFiles, type BindFile } from './bind';
import { renderCoredns } from './coredns';
import { renderDnsmasq } from './dnsmasq';
import { renderHosts } from './hosts';
import { buildModel, checkTtl, type ExportModel, type ExportOptions } from './model';
import { renderRpz } from './rpz';
import { renderUnbound } from './unbound';

export type { ExportOptions } from './model';
export { BIND_CONF_FILE, type BindFile } from './bind';

export const EXPORT_FORMATS = ['hosts', 'dnsmasq', 'unbound', 'bind', 'coredns', 'rpz'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];
/** Formats that are a directory of files (`export --out DIR`), not one stream. */
export type DirectoryFormat = 'bind';
export type StreamFormat = Exclude<ExportFormat, DirectoryFormat>;

const RENDERERS: Record<StreamFormat, (model: ExportModel, opts: ExportOptions) => string> = {
  hosts: renderHosts,
  dnsmasq: renderDnsmasq,
  unbound: renderUnbound,
  coredns: renderCoredns,
  rpz: renderRpz,
};

export function isDirectoryFormat(format: ExportFormat): format is DirectoryFormat {
  return format === 'bind';
}

export function isExportFormat(value: string): value is ExportFormat {
  return (EXPORT_FORMATS as readonly string[]).includes(value);
}

/**
 * The managed-name table as configuration for another DNS server. Pure: the caller supplies
 * the table (from a snapshot or a sync) and decides what an empty one means (EXPORT_EMPTY).
 */
export function renderExport(format: StreamFormat, inputs: readonly TableEntryInput[], opts: ExportOptions): string {
  if (!isExportFormat(format) || isDirectoryFormat(format)) {
    throw new PldnsError('USAGE', `unknown export format "${String(format)}" (expected one of: ${EXPORT_FORMATS.join(', ')})`);
  }
  checkTtl(opts.ttl);
  return RENDERERS[format](buildModel(inputs), opts);
}

/** The table as BIND files to write into `dir` (absolute): one zone file per apex, then named.conf. */
export function renderBindExport(inputs: readonly TableEntryInput[], opts: ExportOptions, dir: string): BindFile[] {
  checkTtl(opts.ttl);
  return renderBindFiles(buildModel(inputs), opts, dir);
}
