import { randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { PldnsError, type ErrorCode } from '../errors';

/**
 * Whole-file replacement that a crash cannot tear: write a temp file in the same directory,
 * fsync it, rename it over the target, fsync the directory. A reader sees the old or the new
 * file, never a mix. Shared by every file kept in state_dir.
 */

/** The file-system calls a write makes; replaceable so tests can fail one step. */
export type AtomicWriteFs = Pick<typeof fsp, 'mkdir' | 'open' | 'rename' | 'rm'>;

export interface AtomicWriteOptions {
  /** The code of the PldnsError thrown when any step fails. */
  errorCode: ErrorCode;
  fs?: AtomicWriteFs;
  mode?: number;
}

/** `.NAME.<pid>.<hex>.tmp`: the pid lets removeStaleTempFiles tell a dead writer's file from a live one's. */
function tempName(fileName: string): string {
  return `.${fileName}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
}

export async function writeFileAtomic(path: string, text: string, options: AtomicWriteOptions): Promise<void> {
  const fs = options.fs ?? fsp;
  const dir = dirname(path);
  const tmpPath = join(dir, tempName(basename(path)));
  let handle: fsp.FileHandle | undefined;
  try {
    await fs.mkdir(dir, { recursive: true });
    handle = await fs.open(tmpPath, 'wx', options.mode ?? 0o640);
    await handle.writeFile(text, 'utf8');
    await handle.sync();
    await handle.close();
    handle = undefined;
    await fs.rename(tmpPath, path);
  } catch (err) {
    await handle?.close().catch(() => undefined);
    await fs.rm(tmpPath, { force: true }).catch(() => undefined);
    throw new PldnsError(options.errorCode, `cannot write ${path}: ${(err as Error).message}`, { cause: err });
  }
  // Makes the rename itself durable. Some platforms cannot fsync a directory; that is not fatal.
  try {
    const dirHandle = await fs.open(dir, 'r');
    try {
      await dirHandle.sync();
    } finally {
      await dirHandle.close();
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM') {
      throw new PldnsError(options.errorCode, `cannot fsync ${dir}: ${(err as Error).message}`, { cause: err });
    }
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Removes temp files of `fileName` left by writers that died mid-write (kill -9, power loss),
 * which would otherwise pile up one per crash. Never a live writer's: only files of processes
 * that no longer exist, or of this pid but older than this process (a pid reused after a
 * restart, e.g. pid 1 in a container). Best effort; returns the names removed.
 */
export async function removeStaleTempFiles(dir: string, fileName: string): Promise<string[]> {
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch {
    return [];
  }
  const pattern = new RegExp(`^\\.${escapeRegExp(fileName)}\\.(\\d+)\\.[0-9a-f]+\\.tmp$`);
  const startedAtMs = Date.now() - process.uptime() * 1000;
  const removed: string[] = [];
  for (const name of names) {
    const m = pattern.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    const path = join(dir, name);
    let stale: boolean;
    if (pid === process.pid) {
      const st = await fsp.stat(path).catch(() => undefined);
      stale = st !== undefined && st.mtimeMs < startedAtMs;
    } else {
      stale = !processAlive(pid);
    }
    if (!stale) continue;
    try {
      await fsp.rm(path, { force: true });
      removed.push(name);
    } catch {
      // Not ours to worry about: the next start tries again.
    }
  }
  return removed;
}
