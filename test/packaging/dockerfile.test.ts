import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

// No Docker engine here: the Dockerfile is checked for its structure instead of built.

const ROOT = resolve(__dirname, '..', '..');
const DOCKERFILE = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');

interface Instruction {
  op: string;
  args: string;
}

/** Instructions per stage, with line continuations joined and comments dropped. */
function parseStages(text: string): { name: string; from: string; body: Instruction[] }[] {
  const joined = text.replace(/\\\n/g, ' ');
  const stages: { name: string; from: string; body: Instruction[] }[] = [];
  for (const raw of joined.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\w+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const op = m[1].toUpperCase();
    if (op === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(m[2].trim());
      stages.push({ from: f?.[1] ?? '', name: f?.[2] ?? String(stages.length), body: [] });
    } else {
      stages[stages.length - 1]?.body.push({ op, args: m[2].trim() });
    }
  }
  return stages;
}

const stages = parseStages(DOCKERFILE);
const build = stages[0];
const runtime = stages[stages.length - 1];
const ops = (stage: typeof runtime, op: string): string[] => stage.body.filter((i) => i.op === op).map((i) => i.args);

t.test('multi-stage on node:20-bookworm-slim', async (t) => {
  t.ok(stages.length >= 2, 'at least two stages');
  for (const s of stages) t.equal(s.from, 'node:20-bookworm-slim', `stage ${s.name}`);
  const buildRuns = ops(build, 'RUN').join('\n');
  t.match(buildRuns, /npm ci\b/, 'build: npm ci');
  t.match(buildRuns, /npm run build/, 'build: npm run build');
  t.match(buildRuns, /apt-get install[^\n]*\bgcc\b[^\n]*libc6-dev/, 'build: a C compiler for the UDP batch addon');
  t.match(buildRuns, /PLDNS_NATIVE=required npm run build/, 'build: the addon is required (no silent dgram fallback in the image)');
  t.match(buildRuns, /npm prune --omit=dev/, 'build: dev dependencies pruned');
});

t.test('runtime stage: non-root, nothing installed from npm, only the build output', async (t) => {
  const users = ops(runtime, 'USER');
  t.equal(users.length, 1, 'one USER');
  const user = users[0]?.split(':')[0] ?? '';
  t.ok(user !== '' && user !== 'root' && user !== '0', `USER ${users[0]} is not root`);
  t.notMatch(ops(runtime, 'RUN').join('\n'), /\b(npm|yarn|pnpm|npx)\b/, 'no package manager runs in the runtime stage');
  const copies = ops(runtime, 'COPY');
  const fromBuild = copies.filter((c) => c.startsWith(`--from=${build.name} `)).map((c) => c.split(/\s+/)[1]);
  t.same(fromBuild.sort(), ['/app/dist', '/app/node_modules', '/app/package.json'], 'dist, node_modules and package.json from the build stage');
  const fromContext = copies.filter((c) => !c.startsWith('--from='));
  t.same(fromContext.map((c) => c.split(/\s+/)[0]), ['config/example.yaml'], 'and only the example config from the repo');
});

t.test('every COPY source from the build context exists in the repo', async (t) => {
  const dockerignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  for (const s of stages) {
    for (const c of ops(s, 'COPY').filter((x) => !x.startsWith('--from='))) {
      const parts = c.split(/\s+/);
      for (const src of parts.slice(0, -1)) {
        t.ok(existsSync(join(ROOT, src)), `${src} exists`);
        t.notOk(dockerignore.includes(src.replace(/\/$/, '')) || dockerignore.includes(src.split('/')[0]), `${src} is not excluded by .dockerignore`);
      }
    }
  }
});

t.test('entrypoint, command, ports and health check', async (t) => {
  t.same(JSON.parse(ops(runtime, 'ENTRYPOINT')[0] ?? 'null'), ['node', '/app/dist/cli.js']);
  const cmd = JSON.parse(ops(runtime, 'CMD')[0] ?? 'null') as string[];
  t.same(cmd, ['serve', '--config', '/etc/privatelink-dns/config.yaml'], 'CMD runs serve with the default config path');
  const exposed = ops(runtime, 'EXPOSE').join(' ').split(/\s+/);
  for (const p of ['53/udp', '53/tcp']) t.ok(exposed.includes(p), `EXPOSE ${p}`);
  t.ok(exposed.some((p) => p === '8053' || p === '8053/tcp'), 'EXPOSE 8053');
  const health = ops(runtime, 'HEALTHCHECK').join(' ');
  t.match(health, /fetch\('http:\/\/127\.0\.0\.1:8053\/healthz'\)/, 'HEALTHCHECK fetches /healthz with node');
  t.match(ops(runtime, 'RUN').join('\n'), /setcap cap_net_bind_service=\+ep \/usr\/local\/bin\/node/, 'node may bind port 53 as non-root');
  t.match(DOCKERFILE, /ip_unprivileged_port_start/, 'the alternative is discussed');
});

t.test('the build stage sees what it needs', async (t) => {
  for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'src']) t.ok(existsSync(join(ROOT, f)), `${f} exists`);
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string>; bin: Record<string, string> };
  t.ok(pkg.scripts.build, 'package.json has a build script');
  t.equal(pkg.bin['privatelink-dns'], 'dist/cli.js', 'the entrypoint is the package bin');
});
