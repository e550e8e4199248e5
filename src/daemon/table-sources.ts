import type { Config } from '../config/schema';
import type { Logger } from '../runtime/log';
import type { Metrics } from '../metrics';
import { PrimariesSource } from './primaries-source';
import { PrivateLinkSource } from './privatelink-source';
import type { SourceListener, TableSource } from './table-source';

/** The table source a config asks for: primaries (a fleet edge), else the PrivateLink API. */
export function createTableSource(config: Config, metrics: Metrics, logger: Logger, onUpdate: SourceListener): TableSource {
  if (config.primaries) return new PrimariesSource({ config, primaries: config.primaries, metrics, logger, onUpdate });
  return new PrivateLinkSource({ config, metrics, logger, onUpdate });
}
