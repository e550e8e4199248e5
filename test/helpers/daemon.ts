import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const CLI = resolve(__dirname, '..', '..', 'dist', 'cli.js');


export interface RunningDaemon {
  readonly proc: ChildProcess;
  readonly dnsPort: number;
  readonly httpPort: number | undefined;
  readonly configPath: string;
  readonly dir: string;
  /** Every log line so far, parsed. */
  logs(): Record<string, unknown>[];
  waitForLog(predicate: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Spawns the built CLI (`node dist/cli.js serve --config FILE`) with the given YAML. Listen on
 * "127.0.0.1:0" to get a free port; it is read back from the "started" log line.
 */
export async function startDaemon(
  yaml: string,
  options: { env?: Record<string, string>; args?: string[]; dir?: string; timeoutMs?: number; command?: (configPath: string) => string[] } = {},
): Promise<RunningDaemon> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'pldns-'));
  const configPath = join(dir, 'config.yaml');
  writeFileSync(configPath, yaml);
  const args = options.args ?? ['serve', '--config', configPath];
  // `command`: a whole argv (e.g. the systemd unit's ExecStart) instead of node + the built CLI.
  const [file, ...argv] = options.command ? options.command(configPath) : [process.execPath, CLI, ...args];
  const proc = spawn(file as string, argv, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ALIBABA_CLOUD_ECS_METADATA_DISABLED: 'true', ...options.env },
  });
  const lines: Record<string, unknown>[] = [];
  let stderr = '';
  let partial = '';
  const waiters = new Set<() => void>();
  proc.stdout?.setEncoding('utf8');
  proc.stdout?.on('data', (chunk: string) => {
    partial += chunk;
    for (let nl = partial.indexOf('\n'); nl >= 0; nl = partial.indexOf('\n')) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        lines.push({ msg: line, unparsed: true });
      }
    }
    for (const w of waiters) w();
  });
  proc.stderr?.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));

  const waitForLog = (predicate: (line: Record<string, unknown>) => boolean, timeoutMs = 15_000): Promise<Record<string, unknown>> =>
    new Promise((resolvePromise, reject) => {
      const check = (): boolean => {
        const found = lines.find(predicate);
        if (found) {
          waiters.delete(waiter);
          clearTimeout(timer);
          resolvePromise(found);
          return true;
        }
        if (proc.exitCode !== null) {
          waiters.delete(waiter);
          clearTimeout(timer);
          reject(new Error(`daemon exited (${proc.exitCode}): ${stderr}\n${lines.map((l) => JSON.stringify(l)).join('\n')}`));
          return true;
        }
        return false;
      };
      const waiter = (): void => void check();
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(new Error(`timed out waiting for a log line; stderr: ${stderr}\nlogs:\n${lines.map((l) => JSON.stringify(l)).join('\n')}`));
      }, timeoutMs);
      waiters.add(waiter);
      proc.once('exit', waiter);
      check();
    });

  const started = await waitForLog((l) => l.msg === 'privatelink-dns started', options.timeoutMs ?? 20_000);
  const dns = started.dns as { udp: number }[];
  const http = started.http as { port: number } | undefined;
  return {
    proc,
    dnsPort: dns[0].udp,
    httpPort: http?.port,
    configPath,
    dir,
    logs: () => lines,
    waitForLog,
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (proc.exitCode !== null) return proc.exitCode;
      proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/**
 * startDaemon for a restart on a port a previous instance held (peers are configured with it):
 * between the stop and the start the kernel may hand that port to a short-lived socket as its
 * ephemeral source port (another process's query, an edge's check of this very hub), so a bind that
 * fails with EADDRINUSE is retried every 200 ms, at most `attempts` times; any other failure throws.
 */
export async function restartDaemonOnSamePort(yaml: string, options: Parameters<typeof startDaemon>[1] = {}, attempts = 25): Promise<RunningDaemon> {
  for (let i = 1; ; i++) {
    try {
      return await startDaemon(yaml, options);
    } catch (err) {
      if (i >= attempts || !/LISTEN_FAILED[^\n]*EADDRINUSE/.test(String((err as Error).message))) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
