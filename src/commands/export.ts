import { loadConfigFile } from '../config/load';
import { PldnsError, describeError } from '../errors';
import { renderExport, isExportFormat, EXPORT_FORMATS, type ExportFormat } from '../export';
import { SnapshotStore } from '../privatelink/snapshot';
import { alignToConfig, type SyncState } from '../privatelink/model';
import type { TableEntryInput } from '../resolve/table';
import { buildTableInputs } from '../privatelink/table-builder';
import { createLogger } from '../log';
import { syncOnce } from './sync';
import { VERSION } from '../version';
import { EXIT_OK } from '../exit-codes';
import { DEFAULT_TRANSFER_ZONE, zoneDigest } from '../zone/policy-zone';
import { policyZoneToTableInputs } from '../zone/zone-to-table';
import type { Config } from '../config/schema';
import type { SerialRecord } from '../zone/serial';
import { loadZoneSerials, loadZoneState } from '../zone/zone-state';

/** The current table as another server's config: from the snapshot when there is one, else a live sync. */
export async function runExport(configPath: string, format: string): Promise<number> {
  if (!isExportFormat(format)) throw new PldnsError('USAGE', `--format must be one of: ${EXPORT_FORMATS.join(', ')}`);
  const config = loadConfigFile(configPath);
  const logger = createLogger('warn', process.stderr);
  if (config.primaries) return exportReceivedZone(config, format);
  let inputs: readonly TableEntryInput[];
  let source = 'snapshot';
  let state: SyncState | undefined;
  if (config.stateDir) {
    try {
      state = await new SnapshotStore({ dir: config.stateDir }).load(config.records.entries);
    } catch (err) {
      logger.warn({ err: describeError(err) }, 'snapshot unusable; running a live sync');
    }
  }
  if (state) {
    inputs = buildTableInputs(alignToConfig(state, config.records.entries).entries, config.records.preferZones).inputs;
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
  const opts = { ttl: config.records.ttl, generatedAt: new Date(), version: VERSION, zone, onUnavailable: config.records.onUnavailable };
  process.stdout.write(renderExport(format, inputs, previousSerial ? { ...opts, previousSerial } : opts));
  return EXIT_OK;
}

/** An edge holds no snapshot of its own: it exports the last zone received from its primaries. */
async function exportReceivedZone(config: Config, format: ExportFormat): Promise<number> {
  const primaries = config.primaries as NonNullable<Config['primaries']>;
  const saved = config.stateDir ? await loadZoneState(config.stateDir, primaries.zone) : undefined;
  if (!saved) throw new PldnsError('EXPORT_EMPTY', `no zone ${primaries.zone} received yet in state_dir (${config.stateDir ?? 'not set'}); run the daemon until a transfer succeeds`);
  const built = policyZoneToTableInputs(saved.zone);
  process.stderr.write(`exporting ${built.inputs.length} names of zone ${primaries.zone} serial ${saved.zone.serial}\n`);
  const opts = { ttl: built.ttlS, generatedAt: new Date(), version: VERSION, zone: primaries.zone, onUnavailable: config.records.onUnavailable };
  const previousSerial = { serial: saved.zone.serial, digest: zoneDigest(saved.zone) };
  process.stdout.write(renderExport(format, built.inputs, format === 'rpz' ? { ...opts, previousSerial } : opts));
  return EXIT_OK;
}
