import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports';
import { requireTool } from './tools';

export interface NamedSpec {
  /**
   * Configuration after the options block: keys, zones ("file" paths relative to the temp dir).
   * The helper writes the options block itself: loopback only, no recursion (unless `recursion`), no NOTIFY.
   */
  readonly config: string;
  /** Files to write into the temp dir before start (zone files), by relative name. */
  readonly files?: Readonly<Record<string, string>>;
  /** Extra statements inside `options { }` (e.g. "notify explicit; also-notify { 127.0.0.1 port 5300; };"). */
  readonly options?: string;
  /** Milliseconds to wait for "running"; default 20 s. */
  readonly startTimeoutMs?: number;
  /** A port chosen beforehand (e.g. already listed as a NOTIFY target); default a free one. */
  readonly port?: number;
  /** A resolver (recursion on) instead of an authoritative server; default false. */
  readonly recursion?: boolean;
}

export interface NamedInstance {
  readonly port: number;
  /** The temp dir holding named.conf, the zone files and journals. */
  readonly dir: string;
  /** named's log so far (it runs with -g: everything on stderr). */
  log(): string;
  /** Waits until the log holds `pattern` (bounded by `timeoutMs`); rejects with the log otherwise. */
  waitForLog(pattern: RegExp, timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Runs a real BIND 9 `named` in the foreground on 127.0.0.1 and a free port, in a fresh temp dir
 * (as root when the tests run as root: no -u, so it can write its journals there). Fails when
 * named is missing: a test that needs it must not pass without it.
 */
export async function startNamed(spec: NamedSpec): Promise<NamedInstance> {
  const named = requireTool('named');
  const dir = mkdtempSync(join(tmpdir(), 'pldns-named-'));
  const port = spec.port ?? (await freePort());
  for (const [name, text] of Object.entries(spec.files ?? {})) writeFileSync(join(dir, name), text);
  const conf = `options {
  directory "${dir}";
  pid-file none;
  session-keyfile none;
  listen-on port ${port} { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion ${spec.recursion === true ? 'yes' : 'no'};
${spec.options?.includes('dnssec-validation') ? '' : '  dnssec-validation no;\n'}  notify no;
  querylog no;
  ${spec.options ?? ''}
};
controls { };
${spec.config}
`;
  const confPath = join(dir, 'named.conf');
  writeFileSync(confPath, conf);
  const child = spawn(named, ['-g', '-4', '-n', '1', '-c', confPath, '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  // If the test process dies without stop(), do not leave this named running.
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  let log = '';
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => {
    exited = true;
    resolve();
  }));
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    log += chunk;
  });
  const waitForLog = async (pattern: RegExp, timeoutMs: number): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(log)) {
      if (exited) throw new Error(`named exited before ${pattern}:\n${log}`);
      if (Date.now() > deadline) throw new Error(`named did not log ${pattern} within ${timeoutMs} ms:\n${log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const stop = async (): Promise<void> => {
    if (!exited) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exit;
      clearTimeout(killer);
    }
    process.removeListener('exit', killOnExit);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForLog(/running$/m, spec.startTimeoutMs ?? 20_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { port, dir, log: () => log, waitForLog, stop };
}

/** A `key` statement for named.conf. */
export function namedKey(name: string, algorithm: string, secret: Buffer): string {
  return `key "${name}" { algorithm ${algorithm}; secret "${secret.toString('base64')}"; };\n`;
}
