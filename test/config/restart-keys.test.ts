import t from 'tap';
import { parseConfigText } from '../../src/config/load';
import { planReload } from '../../src/config/restart-keys';
import type { Config } from '../../src/config/schema';

function config(text: string): Config {
  const parsed = parseConfigText(text);
  if (!parsed.config) throw new Error(JSON.stringify(parsed.problems));
  return parsed.config;
}

const STANDALONE = `
region: cn-hangzhou
state_dir: false
records:
  entries:
    - { names: ["ntp.internal.example"], addresses: ["10.0.0.123"] }
`;
const EDGE = `
region: cn-hangzhou
state_dir: false
primaries: { servers: ["127.0.0.1:5300"], zone: privatelink.rpz, managed: ["svc.example.internal"] }
records:
  entries:
    - { names: ["ntp.internal.example"], addresses: ["10.0.0.124"] }
`;

t.test('a reload that changes nothing restart-only applies the new config as it is', async (t) => {
  const running = config(STANDALONE);
  const next = config(STANDALONE.replace('10.0.0.123', '10.0.0.9'));
  const plan = planReload(running, next);
  t.same(plan.needRestart, []);
  t.equal(plan.config, next);
});

t.test('switching the table source keeps the running source and names the key', async (t) => {
  const running = config(STANDALONE);
  const plan = planReload(running, config(EDGE));
  t.same(plan.needRestart, ['primaries']);
  t.equal(plan.config.source, 'privatelink');
  t.equal(plan.config.primaries, null);
  const entry = plan.config.records.entries[0];
  t.same(entry?.kind === 'static' ? entry.ipv4 : [], ['10.0.0.124'], 'everything else still applies');
  t.ok(Object.isFrozen(plan.config), 'the applied config is frozen like a validated one');
  const back = planReload(config(EDGE), running);
  t.same(back.needRestart, ['primaries']);
  t.equal(back.config.source, 'primaries');
});

t.test('state_dir and transfer wait for a restart; listen.udp_io does not', async (t) => {
  const running = config(STANDALONE);
  const next = config(`${STANDALONE}
listen: { dns: ["127.0.0.1:0"], udp_io: dgram }
transfer: { allow: ["127.0.0.1/32"] }
`.replace('state_dir: false', 'state_dir: /tmp/somewhere'));
  const plan = planReload(running, next);
  t.same([...plan.needRestart].sort(), ['state_dir', 'transfer']);
  t.equal(plan.config.transfer, null);
  t.equal(plan.config.stateDir, null);
  t.same(plan.config.listen, next.listen, 'listen applies whole (the listeners reopen with the new engine)');
});

t.test('a reload names the keys it changes, two levels deep', async (t) => {
  const running = config(STANDALONE);
  const next = config(`${STANDALONE.replace('10.0.0.123', '10.0.0.9')}\nupstream: { servers: ["127.0.0.1:5301"] }\ncache: { size: 10 }\n`);
  const plan = planReload(running, next);
  t.same([...plan.changed].sort(), ['cache.size', 'records.entries', 'upstream.servers']);
  t.same(planReload(running, running).changed, [], 'nothing changed: nothing named');
  const switched = planReload(running, config(EDGE));
  t.notOk(switched.changed.includes('primaries'), 'a restart-only key that keeps its value is not among the changed ones');
});
