import t from 'tap';
import { parseConfigText } from '../../src/config/load';
import { staticEntryState } from '../../src/privatelink/model';

t.test('a static entry\'s state shares the config\'s lists and one frozen empty zone list', async (t) => {
  const { config, problems } = parseConfigText(`region: cn-hangzhou
listen: { dns: ["127.0.0.1:0"] }
upstream: { servers: ["127.0.0.1:53"] }
records:
  entries:
    - { names: ["a.example"], addresses: ["10.0.0.1"] }
    - { names: ["b.example"], addresses: ["10.0.0.2", "fd00::2"] }
`);
  if (!config) throw new Error(JSON.stringify(problems));
  const [a, b] = config.records.entries.map((e) => (e.kind === 'static' ? staticEntryState(e) : undefined));
  const entryB = config.records.entries[1];
  if (!a || !b || entryB?.kind !== 'static') throw new Error('static entries expected');
  t.equal(b.names, entryB.names, 'names: the config\'s list');
  t.equal(b.addresses?.ipv4, entryB.ipv4);
  t.equal(b.addresses?.ipv6, entryB.ipv6);
  t.same(a.zones, []);
  t.equal(a.zones, b.zones, 'one empty zone list for every static entry');
  t.ok(Object.isFrozen(a.zones), 'and it cannot be changed');
});
