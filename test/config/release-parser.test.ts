import t from 'tap';
import { parseConfigText, releaseConfigParser } from '../../src/config/load';

/** The YAML parser is dropped between config reads (a daemon's heap does not keep it) and comes back for the next one. */

const yamlModules = (): string[] => Object.keys(require.cache).filter((id) => id.includes('/node_modules/yaml/'));
const TEXT = 'region: cn-hangzhou\nrecords: { entries: [ { names: ["a.example"], addresses: ["10.0.0.1"] } ] }\nstate_dir: false\n';

t.test('released after a read, loaded again by the next', async (t) => {
  t.same(parseConfigText(TEXT).problems, [], 'a config read');
  t.ok(yamlModules().length > 10, `yaml is loaded while reading (${yamlModules().length} modules)`);
  releaseConfigParser();
  t.same(yamlModules(), [], 'released: no yaml module left in the cache');
  t.same(module.children.filter((c) => c.id.includes('/node_modules/yaml/')), [], 'nor among any children here');
  const again = parseConfigText(TEXT);
  t.same(again.problems, [], 'the next read loads it again');
  t.equal(again.config?.records.entries[0]?.names[0], 'a.example');
  const bad = parseConfigText('region: [unclosed\n');
  t.match(bad.problems[0]?.path ?? '', /yaml line/, 'and still reports YAML errors with their line');
  releaseConfigParser();
});
