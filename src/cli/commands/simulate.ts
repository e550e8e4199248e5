import { readFileSync } from 'node:fs';
import { parseHostPort } from '../../config/units';
import { PldnsError } from '../../errors';
import { DEMO_SIMULATOR_DATA, loadSimulatorData, startSimulator } from '../../simulator';
import { SIMULATOR_DEFAULT_ACCESS_KEY_ID, SIMULATOR_DEFAULT_ACCESS_KEY_SECRET, SIMULATOR_DEFAULT_HOST, SIMULATOR_DEFAULT_PORT } from '../../simulator/server';
import { EXIT_OK } from '../exit-codes';

/** The PrivateLink API simulator on its own, until SIGTERM/SIGINT. Without --data it serves the demo endpoints. */
export interface SimulateOptions {
  listen?: string;
  data?: string;
  accessKeyId?: string;
  accessKeySecret?: string;
  /** PEM files: serve HTTPS (to try privatelink.connect_to and ca_file). */
  tlsCert?: string;
  tlsKey?: string;
}

export async function runSimulate(options: SimulateOptions): Promise<number> {
  const hp = parseHostPort(options.listen ?? `${SIMULATOR_DEFAULT_HOST}:${SIMULATOR_DEFAULT_PORT}`, SIMULATOR_DEFAULT_PORT);
  if (typeof hp === 'string') throw new PldnsError('USAGE', `--listen: ${hp}`);
  if ((options.tlsCert === undefined) !== (options.tlsKey === undefined)) throw new PldnsError('USAGE', '--tls-cert and --tls-key go together');
  const tls = options.tlsCert !== undefined && options.tlsKey !== undefined
    ? { cert: readFileSync(options.tlsCert, 'utf8'), key: readFileSync(options.tlsKey, 'utf8') }
    : undefined;
  const data = options.data ? await loadSimulatorData(options.data) : DEMO_SIMULATOR_DATA;
  const sim = await startSimulator({
    host: hp.host,
    port: hp.port,
    data,
    accessKeyId: options.accessKeyId ?? SIMULATOR_DEFAULT_ACCESS_KEY_ID,
    accessKeySecret: options.accessKeySecret ?? SIMULATOR_DEFAULT_ACCESS_KEY_SECRET,
    ...(tls ? { tls } : {}),
  });
  process.stdout.write(`${JSON.stringify({ msg: 'simulator listening', endpoint: sim.endpoint, url: sim.url, endpoints: data.endpoints.length })}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  await sim.close();
  return EXIT_OK;
}
