import t from 'tap';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import YAML from 'yaml';
import { formatProblems, parseConfigText } from '../../src/config/load';

// The fleet-mode edge DaemonSet: a secondary of the hubs on every node, with no cloud credentials.

const ROOT = resolve(__dirname, '..', '..');
type Any = Record<string, any>;
const docs = YAML.parseAllDocuments(readFileSync(join(ROOT, 'deploy', 'daemonset-fleet-edge.yaml'), 'utf8'));
const objects = docs.map((d) => d.toJS() as Any);
const configMap = objects.find((o) => o.kind === 'ConfigMap') as Any;
const ds = objects.find((o) => o.kind === 'DaemonSet') as Any;
const pod = ds.spec.template.spec as Any;
const main = (pod.containers as Any[]).find((c) => c.name === 'privatelink-dns') as Any;

t.test('the manifest parses into a ConfigMap and a DaemonSet', async (t) => {
  for (const d of docs) t.same(d.errors.map((e) => e.message), [], 'no YAML errors');
  t.same(objects.map((o) => o.kind), ['ConfigMap', 'DaemonSet']);
});

t.test('the embedded config is an edge: primaries with a key file, no privatelink section', async (t) => {
  const text = configMap.data['config.yaml'] as string;
  const read: string[] = [];
  // The key file comes from the Secret volume at run time; here a valid BIND-format key stands in.
  const files = {
    baseDir: '/etc/privatelink-dns',
    readText: (path: string): string => {
      read.push(path);
      return `key "fleet" {\n  algorithm hmac-sha256;\n  secret "${Buffer.alloc(32, 9).toString('base64')}";\n};\n`;
    },
  };
  const { config, problems } = parseConfigText(text, { files });
  t.same(formatProblems(problems), [], 'no problems');
  t.equal(config?.source, 'primaries');
  t.equal(config?.primaries?.zone, 'privatelink.rpz');
  t.ok((config?.primaries?.servers.length ?? 0) >= 2, 'two hubs for failover');
  t.equal(config?.primaries?.key?.name, 'fleet');
  t.same(read, ['/etc/privatelink-dns-tsig/fleet.key'], 'the key is read from the Secret mount');
  t.notMatch(text, /privatelink:/, 'no privatelink section');
  t.equal(config?.stateDir, '/var/lib/privatelink-dns', 'the last zone survives pod restarts');
});

t.test('no cloud credentials anywhere in the pod; the TSIG key is a read-only Secret volume', async (t) => {
  t.notMatch(JSON.stringify(ds), /ALIBABA_CLOUD|AccessKey|credentials/i);
  const volumes = Object.fromEntries((pod.volumes as Any[]).map((v) => [v.name, v]));
  const mounts = Object.fromEntries((main.volumeMounts as Any[]).map((m) => [m.name, m]));
  t.equal(volumes.tsig.secret.secretName, 'privatelink-dns-fleet-key');
  t.equal(mounts.tsig.mountPath, '/etc/privatelink-dns-tsig');
  t.equal(mounts.tsig.readOnly, true);
  t.equal(volumes.config.configMap.name, configMap.metadata.name);
  t.same(volumes.state.hostPath, { path: '/var/lib/privatelink-dns', type: 'DirectoryOrCreate' });
});

t.test('same node-resolver shape as the standalone DaemonSet: probes, host network, hardened container', async (t) => {
  t.equal(pod.hostNetwork, true);
  t.equal(pod.priorityClassName, 'system-node-critical');
  t.same(main.readinessProbe.httpGet, { host: '169.254.53.53', port: 8053, path: '/readyz' });
  t.same(main.securityContext.capabilities, { drop: ['ALL'], add: ['NET_BIND_SERVICE'] });
  t.equal(main.securityContext.readOnlyRootFilesystem, true);
});
