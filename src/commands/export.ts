import { loadConfigFile } from '../config/load';
import { PldnsError, describeError } from '../errors';
import { renderExport, isExportFormat, EXPORT_FORMATS } from '../export';
import { SnapshotStore } from '../privatelink/snapshot';
import { alignToConfig, type SyncState } from '../privatelink/model';
import type { TableEntryInput } from '../resolve/table';
import { buildTableInputs } from '../privatelink/table-builder';
import { createLogger } from '../log';
import { syncOnce } from './sync';
import { VERSION } from '../version';
import { EXIT_OK } from '../exit-codes';

/** The current table as another server's config: from the snapshot when there is one, else a live sync. */
export async function runExport(configPath: string, format: string): Promise<number> {
  if (!isExportFormat(format)) throw new PldnsError('USAGE', `--format must be one of: ${EXPORT_FORMATS.join(', ')}`);
  const config = loadConfigFile(configPath);
  const logger = createLogger('warn', process.stderr);
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
  process.stdout.write(renderExport(format, inputs, { ttl: config.records.ttl, generatedAt: new Date(), version: VERSION }));
  return EXIT_OK;
}
