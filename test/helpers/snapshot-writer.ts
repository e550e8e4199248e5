/**
 * Child process for the crash test in test/privatelink/snapshot.test.ts: saves two alternating
 * large states into the directory given as argv[2] until it is killed. Prints "ready" once the
 * first save landed. Run with tap's TypeScript loader (see the test).
 */
import { saveSnapshot } from '../../src/privatelink/snapshot';
import type { SyncState } from '../../src/privatelink/model';

export function bigState(tag: string, zones = 4000): SyncState {
  return {
    entries: [
      {
        id: 'ep-a',
        kind: 'endpoint',
        names: ['cs-anony-vpc.cn-hangzhou.aliyuncs.com'],
        endpoint: { endpointId: 'ep-a', endpointName: tag, serviceName: 's', endpointDomain: 'ep-a.example.com', endpointStatus: 'Active', connectionStatus: 'Connected' },
        zones: Array.from({ length: zones }, (_, i) => ({ zoneId: `z${i}`, zoneDomain: `z${i}.ep-a.example.com`, eniId: `eni-${tag}-${i}`, eniIp: `10.${tag === 'A' ? 1 : 2}.${(i >> 8) & 255}.${i & 255}`, ipv6: '', vSwitchId: 'v', status: 'Connected' })),
        source: 'sync',
        fetchedAtMs: 1,
        stale: false,
      },
    ],
  };
}

async function main(): Promise<void> {
  const dir = process.argv[2];
  if (!dir) throw new Error('usage: snapshot-writer DIR');
  const states = [bigState('A'), bigState('B')];
  for (let i = 0; ; i++) {
    await saveSnapshot(dir, states[i % 2] as SyncState);
    if (i === 0) process.stdout.write('ready\n');
  }
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`${String(err)}\n`);
    process.exit(1);
  });
}
