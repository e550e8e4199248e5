import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { loadConfigFile } from '../../config/load';
import { writeFileAtomic } from '../../state/atomic-write';
import type { BindFile } from '../../export';
import { PldnsError, describeError } from '../../errors';
import { renderBindExport, renderExport, isDirectoryFormat, isExportFormat, EXPORT_FORMATS, type ExportFormat, type ExportOptions } from '../../export';
import { SnapshotStore } from '../../privatelink/snapshot';
import { alignToConfig, dataFetchedAtMs, type SyncState } from '../../privatelink/model';
import type { TableEntryInput } from '../../resolve/table';
import { buildTableInputs } from '../../privatelink/table-builder';
import { createLogger } from '../../runtime/log';
import { syncOnce } from './sync';
import { VERSION } from '../version';
import { EXIT_OK } from '../exit-codes';
import { DEFAULT_TRANSFER_ZONE } from '../../fleet/zone/policy-zone';
import { policyZoneToTableInputs } from '../../fleet/zone/zone-to-table';
import type { Config } from '../../config/schema';
import type { SerialRecord } from '../../fleet/zone/serial';
import { loadZoneSerials, loadZoneState } from '../../fleet/zone/zone-state';

/**
 * The current table as another server's config: from the snapshot when there is one, else a live
 * sync. One stream on stdout, or for BIND a directory of files (`outDir`): one zone per file.
 */
export async function runExport(configPath: string, format: string, outDir?: string): Promise<number> {
  if (!isExportFormat(format)) throw new PldnsError('USAGE', `--format must be one of: ${EXPORT_FORMATS.join(', ')}`);
  if (isDirectoryFormat(format) && outDir === undefined) {
    throw new PldnsError('USAGE', `--format ${format} writes one file per zone and a named.conf fragment: give --out DIR`);
  }
  if (!isDirectoryFormat(format) && outDir !== undefined) throw new PldnsError('USAGE', `--out is for --format bind; --format ${format} prints to stdout`);
  const config = loadConfigFile(configPath);
  const logger = createLogger('warn', process.stderr);
  if (config.primaries) return exportReceivedZone(config, format, outDir);
  let inputs: readonly TableEntryInput[];
  let source = 'snapshot';
  let state: SyncState | undefined;
  let dataAtMs: number | undefined;
  if (config.stateDir) {
    try {
      state = await new SnapshotStore({ dir: config.stateDir }).load(config.records.entries);
    } catch (err) {
      logger.warn({ err: describeError(err) }, 'snapshot unusable; running a live sync');
    }
  }
  if (state) {
    const entries = alignToConfig(state, config.records.entries).entries;
    inputs = buildTableInputs(entries, config.records.preferZones).inputs;
    dataAtMs = dataFetchedAtMs(entries, Date.now());
  } else {
    source = 'live sync';
    const outcome = await syncOnce(config);
    if (outcome.result === 'failure') throw new PldnsError('EXPORT_EMPTY', `no snapshot and the sync failed: ${outcome.errors.map((e) => `${e.entryId}: ${e.code}`).join(', ')}`);
    inputs = outcome.inputs;
  }
  process.stderr.write(`exporting ${inputs.length} entries from the ${source}\n`);
  const zone = config.transfer?.zone ?? DEFAULT_TRANSFER_ZONE;
  let previousSerial: SerialRecord | undefined;
  if (format === 'rpz' && config.stateDir) {
    try {
      previousSerial = (await loadZoneSerials(config.stateDir)).get(zone);
    } catch (err) {
      logger.warn({ err: describeError(err) }, 'zone serials unusable; the serial comes from the clock');
    }
  }
  const soa = config.transfer?.soa;
  const opts: ExportOptions = {
    ttl: config.records.ttl, generatedAt: new Date(), version: VERSION, zone, onUnavailable: config.records.onUnavailable,
    ...(previousSerial ? { previousSerial } : {}),
    ...(dataAtMs !== undefined ? { dataFetchedAt: new Date(dataAtMs) } : {}),
    ...(soa ? { soaTimers: { refreshS: soa.refreshS, retryS: soa.retryS, expireS: soa.expireS } } : {}),
  };
  return emit(format, inputs, opts, outDir);
}

/** An edge holds no snapshot of its own: it exports the last zone received from its primaries. */
async function exportReceivedZone(config: Config, format: ExportFormat, outDir: string | undefined): Promise<number> {
  const primaries = config.primaries as NonNullable<Config['primaries']>;
  const saved = config.stateDir ? await loadZoneState(config.stateDir, primaries.zone) : undefined;
  if (!saved) throw new PldnsError('EXPORT_EMPTY', `no zone ${primaries.zone} received yet in state_dir (${config.stateDir ?? 'not set'}); run the daemon until a transfer succeeds`);
  const built = policyZoneToTableInputs(saved.zone);
  process.stderr.write(`exporting ${built.inputs.length} names of zone ${primaries.zone} serial ${saved.zone.serial}\n`);
  const opts = { ttl: built.ttlS, generatedAt: new Date(), version: VERSION, zone: primaries.zone, onUnavailable: config.records.onUnavailable };
  return emit(format, built.inputs, format === 'rpz' ? { ...opts, received: saved.zone } : opts, outDir);
}

/**
 * Stdout, or the BIND files: zone files first, the named.conf fragment last, each written whole
 * (temp file and rename) so a reload in between never reads a torn file or a missing zone.
 */
async function emit(format: ExportFormat, inputs: readonly TableEntryInput[], opts: ExportOptions, outDir: string | undefined): Promise<number> {
  if (!isDirectoryFormat(format)) {
    process.stdout.write(renderExport(format, inputs, opts));
    return EXIT_OK;
  }
  const dir = resolve(outDir as string);
  const files = renderBindExport(inputs, opts, dir);
  await mkdir(dir, { recursive: true });
  for (const f of files) await writeFileAtomic(join(dir, f.name), f.text, { mode: 0o644, errorCode: 'EXPORT_WRITE' });
  const conf = files[files.length - 1] as BindFile;
  process.stderr.write(`wrote ${files.length - 1} zone file(s) and ${join(dir, conf.name)}; add to named.conf: include "${join(dir, conf.name)}";\n`);
  return EXIT_OK;
}
