import t from 'tap';
import { mkdtempSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, type RunningDaemon } from '../helpers/daemon';
import { freePort } from '../helpers/ports';

/**
 * A huge snapshot.json (300 MB here, a sparse file) must be refused by its size
 * before it is read: the daemon starts with a clear log line and its peak memory stays small,
 * instead of reading it whole (683 MiB RSS, an OOM loop under the DaemonSet's 256 MiB limit).
 */
let daemon: RunningDaemon | undefined;
t.teardown(() => daemon?.stop());

t.test('an oversized snapshot is refused by size, not read', async (t) => {
  const stateDir = mkdtempSync(join(tmpdir(), 'pldns-bigsnap-'));
  const file = join(stateDir, 'snapshot.json');
  writeFileSync(file, '');
  truncateSync(file, 300 * 1024 * 1024);
  const deadApi = await freePort(); // nothing listens: the API is down, the snapshot is all there is
  daemon = await startDaemon(`
region: cn-hangzhou
listen: { dns: ["127.0.0.1:0"], http: "127.0.0.1:0" }
access: { allow: ["127.0.0.0/8"] }
privatelink:
  endpoint: "127.0.0.1:${deadApi}"
  protocol: http
  credentials: { type: access_key, access_key_id: simulator, access_key_secret: simulator }
  timeout: 1s
records:
  entries:
    - names: ["cs.internal.example"]
      endpoint: ep-bp1aaaaaaaaaaaaaaaaa
state_dir: ${stateDir}
`);
  const line = await daemon.waitForLog((l) => l.msg === 'ignoring the snapshot', 10_000);
  t.match(JSON.stringify(line), /314572800 bytes, over the \d+ a start reads/, 'the log line says why: its size');
  const pid = daemon.proc.pid as number;
  const peakKb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  t.ok(peakKb < 200 * 1024, `peak RSS ${Math.round(peakKb / 1024)} MiB: the file was not read`);
  const health = await fetch(`http://127.0.0.1:${daemon.httpPort}/healthz`);
  t.equal(health.status, 200, 'the daemon is up');
});
