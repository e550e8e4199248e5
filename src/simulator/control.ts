/**
 * The control API under /_simulator/: read and replace the data, inject and clear faults, read
 * call counters. Unauthenticated by design: the simulator is a local test tool.
 */
import { SimulatorDataError, validateSimulatorData } from './data';
import { parseFault } from './faults';
import type { SimulatorStore } from './store';

export interface ControlReply {
  status: number;
  body?: unknown;
}

function parseJson(body: Buffer): { ok: true; value: unknown } | { ok: false; reply: ControlReply } {
  try {
    return { ok: true, value: JSON.parse(body.toString('utf8')) };
  } catch (err) {
    return { ok: false, reply: { status: 400, body: { error: `body is not JSON: ${(err as Error).message}` } } };
  }
}

export function handleControl(store: SimulatorStore, method: string, resource: string, body: Buffer): ControlReply {
  const route = `${method} ${resource}`;
  switch (route) {
    case 'GET state':
      return { status: 200, body: store.getData() };
    case 'PUT state': {
      const parsed = parseJson(body);
      if (!parsed.ok) return parsed.reply;
      try {
        store.setData(validateSimulatorData(parsed.value));
      } catch (err) {
        if (err instanceof SimulatorDataError) return { status: 400, body: { error: err.message, problems: err.problems } };
        throw err;
      }
      return { status: 200, body: { endpoints: store.getData().endpoints.length } };
    }
    case 'GET faults':
      return { status: 200, body: { faults: store.faults.list() } };
    case 'POST faults': {
      const parsed = parseJson(body);
      if (!parsed.ok) return parsed.reply;
      try {
        return { status: 201, body: store.faults.add(parseFault(parsed.value)) };
      } catch (err) {
        return { status: 400, body: { error: (err as Error).message } };
      }
    }
    case 'DELETE faults':
      store.faults.clear();
      return { status: 200, body: { faults: [] } };
    case 'GET calls':
      return { status: 200, body: store.callCounts() };
    case 'DELETE calls':
      store.resetCalls();
      return { status: 200, body: store.callCounts() };
    default:
      if (['state', 'faults', 'calls'].includes(resource)) return { status: 405, body: { error: `${method} is not allowed on /_simulator/${resource}` } };
      return { status: 404, body: { error: `no such control resource: /_simulator/${resource}` } };
  }
}
