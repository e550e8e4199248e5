import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import type { Test } from 'tap';

/** Runs a command to completion; `code` is -1 when it could not run or timed out. */
export function sh(cmd: string, args: string[], timeoutMs = 20_000): { code: number; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status ?? -1, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

/**
 * The network namespaces and child processes one test file owns. Everything is removed when the
 * file's tests end, and again at process exit should the run be cut short.
 */
export class TestNetns {
  readonly children: ChildProcess[] = [];
  private readonly names: string[] = [];

  constructor(t: Test, private readonly extraCleanup: () => void = () => {}) {
    t.teardown(() => this.cleanup());
    process.once('exit', () => this.cleanup());
  }

  /** Creates namespace `name`; on failure the test fails with the reason (needs root). */
  add(t: Test, name: string): boolean {
    const r = sh('ip', ['netns', 'add', name]);
    if (r.code !== 0) {
      t.fail(`"ip netns add" is not permitted here (needs root): ${r.out.trim()}`);
      return false;
    }
    this.names.push(name);
    return true;
  }

  track<P extends ChildProcess>(proc: P): P {
    this.children.push(proc);
    return proc;
  }

  /** Spawns `cmd` inside namespace `ns`; resolves once `ready(output so far)` is true. */
  startIn(ns: string, cmd: string[], ready: (out: string) => boolean, what: string, timeoutMs = 20_000): Promise<{ proc: ChildProcess; output: () => string }> {
    const proc = this.track(spawn('ip', ['netns', 'exec', ns, ...cmd], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ALIBABA_CLOUD_ECS_METADATA_DISABLED: 'true' } }));
    let out = '';
    let started = false;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${what} did not start within ${timeoutMs} ms:\n${out}`)), timeoutMs);
      const check = (): void => {
        if (!started && ready(out)) {
          started = true;
          clearTimeout(timer);
          resolve({ proc, output: () => out });
        }
      };
      proc.stdout?.on('data', (d) => { out += d; check(); });
      proc.stderr?.on('data', (d) => { out += d; check(); });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        if (!started) reject(new Error(`${what} exited (${code}):\n${out}`));
      });
    });
  }

  cleanup(): void {
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const n of this.names) sh('ip', ['netns', 'del', n]);
    this.extraCleanup();
  }
}
