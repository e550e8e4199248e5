import { loadConfigFile } from '../../config/load';
import type { Config } from '../../config/schema';
import { createLogger } from '../../runtime/log';
import { Syncer, noSyncObserver } from '../../privatelink/sync';
import { ApiClientProvider } from '../../privatelink/api-provider';
import type { SyncOutcome } from '../../privatelink/sync';
import type { TableEntryInput } from '../../resolve/table';
import { EXIT_FAILURE, EXIT_OK } from '../exit-codes';

/** One sync, printed as a table (or JSON); exit 1 unless every entry was fetched. */
export async function runSync(configPath: string, json: boolean): Promise<number> {
  const outcome = await syncOnce(loadConfigFile(configPath));
  if (json) {
    process.stdout.write(`${JSON.stringify({ result: outcome.result, errors: outcome.errors, problems: outcome.problems, table: outcome.inputs }, null, 2)}\n`);
  } else {
    process.stdout.write(renderTable(outcome.inputs));
    for (const e of outcome.errors) process.stderr.write(`error: ${e.entryId}: ${e.code}: ${e.message}\n`);
    for (const p of outcome.problems) process.stderr.write(`warning: ${p.entryId}: ${p.message}\n`);
    process.stderr.write(`sync ${outcome.result}\n`);
  }
  return outcome.result === 'success' ? EXIT_OK : EXIT_FAILURE;
}

/** A one-shot sync with the real client, logs to stderr at warn. Used by `sync` and `export`. */
export async function syncOnce(config: Config): Promise<SyncOutcome> {
  const logger = createLogger('warn', process.stderr);
  const clients = new ApiClientProvider(config, logger);
  const syncer = new Syncer({
    api: clients.provide,
    config,
    observer: noSyncObserver,
    logger,
    onState: () => {},
  });
  try {
    return await syncer.syncOnce();
  } finally {
    clients.close();
  }
}

export function renderTable(inputs: readonly TableEntryInput[]): string {
  const rows = inputs.flatMap((i) => i.names.map((n) => [n, [...i.ipv4, ...i.ipv6].join(' ') || '(no usable IP)', i.id]));
  const w0 = Math.max(4, ...rows.map((r) => r[0].length));
  const w1 = Math.max(3, ...rows.map((r) => r[1].length));
  const line = (r: string[]): string => `${r[0].padEnd(w0)}  ${r[1].padEnd(w1)}  ${r[2]}\n`;
  return line(['NAME', 'IPS', 'ENTRY']) + rows.map(line).join('');
}
