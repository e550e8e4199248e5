import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from './daemon';

/** Simulator data in the API's own field names (the `--data FILE` format). */
export interface SimData {
  endpoints: Record<string, unknown>[];
}

export interface SimulatorProcess {
  readonly proc: ChildProcess;
  /** `127.0.0.1:port`, for `privatelink.endpoint`. */
  readonly endpoint: string;
  /** `http://127.0.0.1:port`, for the control API. */
  readonly url: string;
  readonly port: number;
  /** GET/PUT/POST/DELETE on /_simulator/<resource>; throws on a non-2xx answer. */
  control<T = unknown>(method: string, resource: string, body?: unknown): Promise<T>;
  setState(data: SimData): Promise<void>;
  calls(): Promise<Record<string, number>>;
  resetCalls(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Runs the real `privatelink-dns simulate --listen 127.0.0.1:PORT --data FILE` as a child process
 * (port 0: a free port, read back from its "simulator listening" line). The daemon under test
 * reaches it over HTTP with the real client, which signs every request; the simulator verifies it.
 */
export async function startSimulatorProcess(
  data: SimData,
  options: { port?: number; accessKeyId?: string; accessKeySecret?: string; timeoutMs?: number } = {},
): Promise<SimulatorProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'pldns-sim-'));
  const dataPath = join(dir, 'data.json');
  writeFileSync(dataPath, JSON.stringify(data));
  const args = [CLI, 'simulate', '--listen', `127.0.0.1:${options.port ?? 0}`, '--data', dataPath];
  if (options.accessKeyId) args.push('--access-key-id', options.accessKeyId);
  if (options.accessKeySecret) args.push('--access-key-secret', options.accessKeySecret);
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stderr?.on('data', (d) => (err += d));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const line = await new Promise<{ endpoint: string; url: string }>((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`simulator did not start within ${options.timeoutMs ?? 10_000}ms: ${out}${err}`));
    }, options.timeoutMs ?? 10_000);
    proc.stdout?.setEncoding('utf8');
    proc.stdout?.on('data', (chunk: string) => {
      out += chunk;
      const m = /^(\{.*"simulator listening".*\})$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(JSON.parse(m[1]) as { endpoint: string; url: string });
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`simulator exited (${code}) before listening: ${out}${err}`));
    });
  });
  const port = Number(line.endpoint.split(':').pop());

  const control = async <T>(method: string, resource: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${line.url}/_simulator/${resource}`, {
      method,
      ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
      signal: AbortSignal.timeout(5000),
    });
    const text = await res.text();
    if (res.status < 200 || res.status > 299) throw new Error(`${method} /_simulator/${resource}: ${res.status} ${text}`);
    return (text === '' ? undefined : JSON.parse(text)) as T;
  };

  return {
    proc,
    endpoint: line.endpoint,
    url: line.url,
    port,
    control,
    setState: async (d) => void (await control('PUT', 'state', d)),
    calls: () => control<Record<string, number>>('GET', 'calls'),
    resetCalls: async () => void (await control('DELETE', 'calls')),
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** One zone in API field names. */
export function zone(endpointId: string, zoneId: string, ip: string, status = 'Connected', extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ZoneId: zoneId,
    ZoneDomain: `${endpointId}-${zoneId}.epsrv-test.cn-hangzhou.privatelink.aliyuncs.com`,
    EniId: `eni-${endpointId.slice(3)}-${zoneId}`,
    EniIp: ip,
    VSwitchId: `vsw-${zoneId}`,
    ZoneStatus: status,
    ...extra,
  };
}

/** One Active + Connected endpoint in API field names. */
export function endpoint(endpointId: string, zones: Record<string, unknown>[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    EndpointId: endpointId,
    EndpointName: `test-${endpointId}`,
    EndpointDomain: `${endpointId}.epsrv-test.cn-hangzhou.privatelink.aliyuncs.com`,
    EndpointStatus: 'Active',
    ConnectionStatus: 'Connected',
    EndpointType: 'Interface',
    ServiceId: `epsrv-${endpointId.slice(3)}`,
    ServiceName: `com.aliyuncs.privatelink.cn-hangzhou.epsrv-${endpointId.slice(3)}`,
    VpcId: 'vpc-bp1testtesttesttest',
    RegionId: 'cn-hangzhou',
    Zones: zones,
    ...extra,
  };
}
