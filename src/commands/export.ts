import { loadConfigFile } from '../config/load';
import { PldnsError, describeError } from '../errors';
import { renderExport, isExportFormat, EXPORT_FORMATS } from '../export';
import { SnapshotStore } from '../privatelink/snapshot';
import { Syncer } from '../privatelink/sync';
import { createLogger } from '../log';
import { Metrics } from '../metrics';
import { syncOnce } from './sync';
import { VERSION } from '../version';

/** The current table as another server's config: from the snapshot when there is one, else a live sync. */
export async function runExport(configPath: string, format: string): Promise<number> {
  if (!isExportFormat(format)) throw new PldnsError('USAGE', `--format must be one of: ${EXPORT_FORMATS.join(', ')}`);
  const config = loadConfigFile(configPath);
  const logger = createLogger('warn', process.stderr);
  let inputs;
  let source = 'snapshot';
  let state;
  if (config.stateDir) {
    try {
      state = await new SnapshotStore({ dir: config.stateDir }).load(config.records.entries);
    } catch (err) {
      logger.warn({ err: describeError(err) }, 'snapshot unusable; running a live sync');
    }
  }
  if (state) {
    const syncer = new Syncer({ api: () => { throw new PldnsError('PL_NETWORK', 'no API calls during export'); }, config, metrics: new Metrics({ processMetrics: false }), logger, initialState: state, onState: () => {} });
    inputs = syncer.current().inputs;
  } else {
    source = 'live sync';
    const outcome = await syncOnce(configPath);
    if (outcome.result === 'failure') throw new PldnsError('EXPORT_EMPTY', `no snapshot and the sync failed: ${outcome.errors.map((e) => `${e.entryId}: ${e.code}`).join(', ')}`);
    inputs = outcome.inputs;
  }
  process.stderr.write(`exporting ${inputs.length} entries from the ${source}\n`);
  process.stdout.write(renderExport(format, inputs, { ttl: config.records.ttl, generatedAt: new Date(), version: VERSION }));
  return 0;
}
