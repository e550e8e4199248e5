import t from 'tap';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import YAML from 'yaml';
import { formatProblems, parseConfigText } from '../../src/config/load';

const ROOT = resolve(__dirname, '..', '..');
const docs = YAML.parseAllDocuments(readFileSync(join(ROOT, 'deploy', 'daemonset.yaml'), 'utf8'));

// Loosely typed walk over the manifest: every access is checked by an assertion.
type Any = Record<string, any>;

t.test('the manifest parses', async (t) => {
  for (const d of docs) t.same(d.errors.map((e) => e.message), [], 'no YAML errors');
  t.same(docs.map((d) => (d.toJS() as Any).kind), ['ServiceAccount', 'ConfigMap', 'DaemonSet']);
});

const objects = docs.map((d) => d.toJS() as Any);
const configMap = objects.find((o) => o.kind === 'ConfigMap') as Any;
const ds = objects.find((o) => o.kind === 'DaemonSet') as Any;
const pod = ds.spec.template.spec as Any;
const main = (pod.containers as Any[]).find((c) => c.name === 'privatelink-dns') as Any;

t.test('the embedded config validates and listens on the link-local address', async (t) => {
  const text = configMap.data['config.yaml'] as string;
  const { config, problems } = parseConfigText(text);
  t.same(formatProblems(problems), [], 'no problems');
  t.same(config?.listen.dns.map((l) => `${l.host}:${l.port}`), ['169.254.53.53:53']);
  t.equal(config?.listen.http?.host, '169.254.53.53');
  t.equal(config?.stateDir, '/var/lib/privatelink-dns');
  t.ok(config?.access.allow.includes('169.254.0.0/16'), 'link-local clients allowed');
  t.ok((config?.upstream.servers.length ?? 0) > 0, 'explicit upstreams');
});

t.test('pod: host network, node DNS, critical priority, every node', async (t) => {
  t.equal(configMap.metadata.namespace, ds.metadata.namespace, 'ConfigMap and DaemonSet in one namespace');
  t.equal(ds.metadata.namespace, 'kube-system', 'system-node-critical is allowed in kube-system');
  t.equal(pod.hostNetwork, true);
  t.equal(pod.dnsPolicy, 'Default');
  t.equal(pod.priorityClassName, 'system-node-critical');
  t.same(ds.spec.updateStrategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } });
  const effects = (pod.tolerations as Any[]).filter((x) => x.operator === 'Exists' && !x.key).map((x) => x.effect).sort();
  t.same(effects, ['NoExecute', 'NoSchedule'], 'tolerates tainted (edge) nodes');
  t.same(ds.spec.selector.matchLabels, ds.spec.template.metadata.labels, 'selector matches the template');
});

t.test('container: probes, resources, state, credentials', async (t) => {
  t.same(main.livenessProbe.httpGet, { host: '169.254.53.53', port: 8053, path: '/healthz' });
  t.same(main.readinessProbe.httpGet, { host: '169.254.53.53', port: 8053, path: '/readyz' });
  t.same(main.args, ['serve', '--config', '/etc/privatelink-dns/config.yaml']);
  t.ok(main.resources.requests.cpu && main.resources.requests.memory && main.resources.limits.memory, 'requests and a memory limit');
  const mounts = Object.fromEntries((main.volumeMounts as Any[]).map((m) => [m.name, m]));
  const volumes = Object.fromEntries((pod.volumes as Any[]).map((v) => [v.name, v]));
  t.equal(mounts.state.mountPath, '/var/lib/privatelink-dns');
  t.same(volumes.state.hostPath, { path: '/var/lib/privatelink-dns', type: 'DirectoryOrCreate' });
  t.equal(mounts.config.mountPath, '/etc/privatelink-dns');
  t.equal(volumes.config.configMap.name, configMap.metadata.name);
  const env = Object.fromEntries((main.env as Any[]).map((e) => [e.name, e]));
  t.notOk(env.ALIBABA_CLOUD_ACCESS_KEY_ID, 'no long-lived AccessKey: RRSA');
  t.equal(env.ALIBABA_CLOUD_ECS_METADATA_DISABLED?.value, 'true');
  // RRSA: the service account's projected token, where the config reads it, exchanged at the VPC STS host.
  const sa = objects.find((o) => o.kind === 'ServiceAccount') as Any;
  t.equal(pod.serviceAccountName, sa.metadata.name);
  t.equal(sa.metadata.namespace, ds.metadata.namespace);
  const { config } = parseConfigText(configMap.data['config.yaml'] as string);
  const cred = config?.privatelink.credentials as Any;
  t.match(cred, { type: 'oidc_role_arn', stsRegion: 'cn-hangzhou', stsVpc: true });
  t.match(cred.roleArn, /^acs:ram::\d+:role\//);
  t.match(cred.oidcProviderArn, /^acs:ram::\d+:oidc-provider\//);
  const token = volumes['rrsa-token'].projected.sources[0].serviceAccountToken as Any;
  t.equal(token.audience, 'sts.aliyuncs.com');
  t.equal(`${mounts['rrsa-token'].mountPath}/${token.path}`, cred.oidcTokenFile, 'the config reads the mounted token');
  const ports = (main.ports as Any[]).map((p) => `${p.containerPort}/${p.protocol}`).sort();
  t.same(ports, ['53/TCP', '53/UDP', '8053/TCP']);
});

t.test('security: only NET_BIND_SERVICE, no escalation, read-only root', async (t) => {
  const sc = main.securityContext as Any;
  t.same(sc.capabilities, { drop: ['ALL'], add: ['NET_BIND_SERVICE'] });
  t.equal(sc.allowPrivilegeEscalation, false);
  t.equal(sc.readOnlyRootFilesystem, true);
  t.notOk(sc.privileged, 'not privileged');
  for (const c of pod.initContainers as Any[]) {
    t.same(c.securityContext.capabilities.drop, ['ALL'], `${c.name}: drops everything else`);
    t.match(c.command.join(' '), /169\.254\.53\.53/, `${c.name}: sets up the link-local address`);
  }
});
