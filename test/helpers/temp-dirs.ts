import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A maker of this test file's temporary directories (mkdtemp under the system temp dir), all
 * removed when the file's tests end: only ours, never a glob.
 */
export function ownTempDirs(t: { teardown(fn: () => void): void }): (prefix: string) => string {
  const made: string[] = [];
  t.teardown(() => {
    for (const d of made) rmSync(d, { recursive: true, force: true });
  });
  return (prefix) => {
    const d = mkdtempSync(join(tmpdir(), prefix));
    made.push(d);
    return d;
  };
}
