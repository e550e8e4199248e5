/**
 * The simulator's public surface, for `privatelink-dns simulate` (default listen 127.0.0.1:8054,
 * access key `simulator`/`simulator`), `serve --demo` and tests.
 */
export {
  startSimulator,
  SIMULATOR_DEFAULT_HOST,
  SIMULATOR_DEFAULT_PORT,
  SIMULATOR_DEFAULT_ACCESS_KEY_ID,
  SIMULATOR_DEFAULT_ACCESS_KEY_SECRET,
} from './server';
export type { SimulatorOptions, RunningSimulator, SeenRequest } from './server';
export type { SimulatorStsOptions } from './sts';
export { loadSimulatorData, validateSimulatorData, SimulatorDataError } from './data';
export { parseFault } from './faults';
export type { Fault, FaultSpec } from './faults';
export type { SimulatorData, SimEndpoint, SimZone } from './types';
export { DEMO_SIMULATOR_DATA, DEMO_ENTRIES, DEMO_REGION, DEMO_REGISTRY_SERVICE_NAME, DEMO_ENDPOINT_IDS } from './demo-data';
export type { DemoEntry } from './demo-data';
