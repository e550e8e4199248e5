import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports';
import { requireTool } from './tools';
import { dig } from './dig';

export interface RunningUnbound {
  readonly port: number;
  readonly dir: string;
  /** For /proc measurements (idle CPU and RSS next to ours). */
  readonly pid: number;
  /** Everything it has written to stdout and stderr so far. */
  log(): string;
  stop(): Promise<void>;
}

export interface UnboundOptions {
  /** A port chosen beforehand (e.g. already listed as a NOTIFY target); default a free one. */
  readonly port?: number;
  /** Default "iterator"; an rpz: clause needs "respip iterator". */
  readonly moduleConfig?: string;
}

/**
 * A real Unbound on 127.0.0.1 as an upstream or as a data-center resolver. `serverLines` are
 * added to its `server:` clause; `tail` is appended after it (forward-zone: ...).
 */
export async function startUnbound(serverLines: string[], tail: string[] = [], options: UnboundOptions = {}): Promise<RunningUnbound> {
  requireTool('unbound');
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'pldns-unbound-'));
  const conf = join(dir, 'unbound.conf');
  writeFileSync(conf, [
    'server:',
    `  interface: 127.0.0.1@${port}`,
    '  do-daemonize: no', '  chroot: ""', '  username: ""', '  pidfile: ""', '  use-syslog: no', '  logfile: ""',
    '  verbosity: 1', '  do-not-query-localhost: no', '  access-control: 127.0.0.0/8 allow', '  num-threads: 1',
    `  module-config: "${options.moduleConfig ?? 'iterator'}"`,
    ...serverLines.map((l) => `  ${l}`),
    ...tail,
    '',
  ].join('\n'));
  const proc: ChildProcess = spawn('unbound', ['-d', '-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout?.on('data', (d) => (output += d));
  proc.stderr?.on('data', (d) => (output += d));
  const stop = async (): Promise<void> => {
    if (proc.exitCode !== null) return;
    proc.kill('SIGTERM');
    await new Promise((r) => { const t = setTimeout(() => { proc.kill('SIGKILL'); r(undefined); }, 3000); proc.once('exit', () => { clearTimeout(t); r(undefined); }); });
  };
  // Ready when it answers a query (any status) over UDP.
  for (let i = 0; i < 50; i++) {
    if (proc.exitCode !== null) throw new Error(`unbound exited: ${output}`);
    const r = await dig(port, 'ready.invalid', 'A', ['+time=1']);
    if (r.status !== 'NO_ANSWER') return { port, dir, pid: proc.pid as number, log: () => output, stop };
    await new Promise((r2) => setTimeout(r2, 100));
  }
  await stop();
  throw new Error(`unbound did not start: ${output}`);
}
