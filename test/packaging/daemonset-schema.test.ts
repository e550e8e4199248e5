import t from 'tap';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import YAML from 'yaml';
import { DaemonSet } from 'kubernetes-models/apps/v1';
import { ConfigMap, ServiceAccount } from 'kubernetes-models/v1';
import { parseConfigText } from '../../src/config/load';

/**
 * Both DaemonSets validate against the Kubernetes OpenAPI schemas (offline, with
 * kubernetes-models), keep off NodeLocal DNSCache's 169.254.20.10, request the memory the daemon
 * measurably uses, run under the runtime's default seccomp profile, and drain with `lameduck`.
 */
const ROOT = resolve(__dirname, '..', '..');
type Any = Record<string, any>;
const NODELOCAL_DNS = '169.254.20.10';
const MODELS: Record<string, new (data: any) => { validate(): void }> = { DaemonSet, ConfigMap, ServiceAccount };

/** Kubernetes quantity (Mi, Gi, M, plain bytes) → bytes; only the suffixes the manifests use. */
function bytes(quantity: string): number {
  const m = /^(\d+)(Ki|Mi|Gi|k|M|G)?$/.exec(quantity);
  if (!m) throw new Error(`unparsed quantity ${quantity}`);
  const unit = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, k: 1e3, M: 1e6, G: 1e9 }[m[2] ?? ''] ?? 1;
  return Number(m[1]) * unit;
}

/** The daemon's idle RSS as README reports it ("62–74 MB RSS"), and its peak under load ("Peak RSS … 79–80 MB"). */
/** The edge's TSIG key file comes from a Secret volume at run time; a valid key stands in. */
const files = {
  baseDir: '/etc/privatelink-dns',
  readText: (): string => `key "fleet" {\n  algorithm hmac-sha256;\n  secret "${Buffer.alloc(32, 9).toString('base64')}";\n};\n`,
};
const parse = (text: string) => {
  const { config, problems } = parseConfigText(text, { files });
  if (!config) throw new Error(problems.map((p) => `${p.path}: ${p.problem}`).join('\n'));
  return config;
};

/**
 * The daemon's RSS from the last full bench run (bench/results.json, the run the README quotes):
 * the largest peak over the dnsperf cases (managed, cached, a miss flood, TCP) and the idle figure.
 */
function measuredRssMb(): { idleMax: number; peakMax: number } {
  const results = JSON.parse(readFileSync(join(ROOT, 'bench', 'results.json'), 'utf8')) as {
    aggregates: Record<string, { pl: { rss: number } }>;
    extra?: { idle?: { pldns?: { rssMb?: number } } };
  };
  const peaks = Object.values(results.aggregates).map((c) => c.pl.rss / 1024);
  const idle = results.extra?.idle?.pldns?.rssMb;
  if (peaks.length === 0 || idle === undefined) throw new Error('bench/results.json has no peak or idle RSS: run npm run bench');
  return { idleMax: idle, peakMax: Math.max(...peaks) };
}

for (const file of ['daemonset.yaml', 'daemonset-fleet-edge.yaml']) {
  const text = readFileSync(join(ROOT, 'deploy', file), 'utf8');
  const objects = YAML.parseAllDocuments(text).map((d) => d.toJS() as Any);

  t.test(`${file}: every object validates against the Kubernetes schema`, async (t) => {
    for (const o of objects) {
      const Model = MODELS[o.kind];
      t.ok(Model, `${o.kind} has a model`);
      t.doesNotThrow(() => new Model(o).validate(), `${o.kind} ${o.metadata?.name}`);
    }
    // The check is real: a wrong field type in the same DaemonSet fails it.
    const ds = structuredClone(objects.find((o) => o.kind === 'DaemonSet')) as Any;
    ds.spec.template.spec.containers[0].resources.requests.memory = 'lots';
    t.throws(() => new DaemonSet(ds).validate(), /memory/);
  });

  const configMap = objects.find((o) => o.kind === 'ConfigMap') as Any;
  const ds = objects.find((o) => o.kind === 'DaemonSet') as Any;
  const pod = ds.spec.template.spec as Any;
  const main = (pod.containers as Any[]).find((c) => c.name === 'privatelink-dns') as Any;

  t.test(`${file}: not NodeLocal DNSCache's address`, async (t) => {
    t.notOk(text.split('\n').some((l) => !l.trimStart().startsWith('#') && l.includes(NODELOCAL_DNS)), `${NODELOCAL_DNS} only in comments`);
    const listen = parse(configMap.data['config.yaml']).listen.dns;
    t.equal(listen.length, 1);
    t.match(listen[0]?.host, /^169\.254\./, 'link-local');
    t.not(listen[0]?.host, NODELOCAL_DNS);
    t.not(listen[0]?.host, '169.254.25.10', 'nor kubespray\'s nodelocaldns address');
    t.equal(main.readinessProbe.httpGet.host, listen[0]?.host, 'the probes use the listen address');
    t.match((pod.initContainers as Any[])[0].command.join(' '), new RegExp(`ip addr add ${listen[0]?.host.replace(/\./g, '\\.')}/32 dev lo`));
  });

  t.test(`${file}: memory request covers the measured RSS, seccomp RuntimeDefault`, async (t) => {
    const { idleMax, peakMax } = measuredRssMb();
    const request = bytes(main.resources.requests.memory);
    t.ok(request >= peakMax * 2 ** 20, `request ${main.resources.requests.memory} ≥ peak ${peakMax.toFixed(1)} MiB (idle ${idleMax.toFixed(1)} MiB)`);
    t.ok(bytes(main.resources.limits.memory) >= 2 * request, 'limit leaves room for a forwarding flood');
    for (const c of [...(pod.initContainers as Any[]), main]) t.same(c.securityContext.seccompProfile, { type: 'RuntimeDefault' }, c.name);
  });

  t.test(`${file}: no optional Secret (a missing key must stop the pod, not start it without)`, async (t) => {
    const secrets = (pod.volumes as Any[]).filter((v) => v.secret).map((v) => v.secret as Any);
    const refs = (main.env ?? []).flatMap((e: Any) => (e.valueFrom?.secretKeyRef ? [e.valueFrom.secretKeyRef] : []));
    for (const s of [...secrets, ...refs]) t.not(s.optional, true, JSON.stringify(s));
    t.pass(`${secrets.length + refs.length} secret reference(s)`);
  });

  t.test(`${file}: lameduck drains readiness, both delays fit the grace period`, async (t) => {
    const config = parse(configMap.data['config.yaml']);
    t.equal(config?.limits.lameduckMs, 5000, 'readiness off 5 s before the listeners close');
    t.ok((config?.limits.lameduckMs ?? 0) + (config?.limits.shutdownGraceMs ?? 0) < pod.terminationGracePeriodSeconds * 1000);
    t.notMatch(configMap.data['config.yaml'], /shutdown_grace:[^\n]*readyz/, 'shutdown_grace is not described as the readiness delay');
  });
}

t.test('config/example.yaml: lameduck is the readiness delay, shutdown_grace the drain', async (t) => {
  const text = readFileSync(join(ROOT, 'config', 'example.yaml'), 'utf8');
  t.match(text, /^\s*lameduck: \S+\s+#.*\/readyz/m);
  t.notMatch(text, /shutdown_grace:[^\n]*readyz/);
});

t.test('docs/deployment.md chains CoreDNS and NodeLocal DNSCache to the DaemonSet address', async (t) => {
  const docs = readFileSync(join(ROOT, 'docs', 'deployment.md'), 'utf8');
  const ds = YAML.parseAllDocuments(readFileSync(join(ROOT, 'deploy', 'daemonset.yaml'), 'utf8')).map((d) => d.toJS() as Any);
  const host = parse((ds.find((o) => o.kind === 'ConfigMap') as Any).data['config.yaml']).listen.dns[0]?.host;
  const forwards = [...docs.matchAll(/^\s*forward \. (\S+)$/gm)].map((m) => m[1]);
  t.same(forwards, [host, host], 'one stanza for CoreDNS, one for NodeLocal DNSCache');
  t.match(docs, new RegExp(`bind ${NODELOCAL_DNS.replace(/\./g, '\\.')}\\n\\s*forward \\. ${host?.replace(/\./g, '\\.')}`), 'the NodeLocal block binds its own address');
});
