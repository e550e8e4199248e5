import t from 'tap';
import { parseConfigText } from '../../src/config/load';
import type { Config } from '../../src/config/schema';
import { TableComposer } from '../../src/daemon/table-composer';
import type { SourceUpdate } from '../../src/daemon/table-source';
import { Metrics } from '../../src/metrics';
import type { Resolver, ResolverOptions } from '../../src/resolve/resolver';
import { AnswerTable, type TableEntryInput } from '../../src/resolve/table';
import { createLogger } from '../../src/runtime/log';
import { Slicer } from '../../src/runtime/slices';

// The composer builds a large table a slice per turn and swaps it in whole: the old table answers
// until then, a newer update wins over an older build, subscribers hear of an update once it answers.

function config(): Config {
  const { config, problems } = parseConfigText(`region: cn-hangzhou
listen: { dns: ["127.0.0.1:0"] }
upstream: { servers: ["127.0.0.1:53"] }
records:
  ttl: 30
  entries:
    - { names: ["own.example"], addresses: ["10.9.9.9"] }
`);
  if (!config) throw new Error(JSON.stringify(problems));
  return config;
}

/** The resolver as the composer uses it: the table it answers from, TTL changes, cache clears. */
function fakeResolver() {
  const state = { table: AnswerTable.empty(), swaps: 0, clears: 0, ttl: undefined as number | undefined };
  const resolver = {
    get currentTable() {
      return state.table;
    },
    setTable(table: AnswerTable) {
      state.table = table;
      state.swaps++;
    },
    clearCache() {
      state.clears++;
    },
    reconfigure(options: ResolverOptions) {
      state.ttl = options.records.ttl;
    },
  };
  return { resolver: resolver as unknown as Resolver, state };
}

const inputs = (n: number, octet: number): TableEntryInput[] =>
  Array.from({ length: n }, (_, i) => ({ id: `n${i}`, names: [`n${i}.bulk.example`], ipv4: [`10.${octet}.${(i >> 8) & 255}.${i & 255}`], ipv6: [] }));

function composer(limits = { maxUnits: 500, maxMs: Number.POSITIVE_INFINITY }) {
  const { resolver, state } = fakeResolver();
  const units: number[] = [];
  const c = new TableComposer({
    config: config(),
    resolver,
    resolverOptions: (cfg) => ({ records: cfg.records }) as unknown as ResolverOptions,
    metrics: new Metrics({ processMetrics: false }),
    logger: createLogger('silent'),
    slicer: new Slicer(limits, (u) => units.push(u)),
  });
  const published: SourceUpdate[] = [];
  c.subscribe((u) => {
    published.push(u);
    t.equal(state.table.lookup('n0.bulk.example')?.record.ipv4.length, 1, 'a subscriber hears of an update once its table answers');
  });
  return { c, state, units, published };
}

t.test('a small table is in place when sourceUpdated returns', async (t) => {
  const { c, state, published } = composer();
  const done = c.sourceUpdated({ inputs: inputs(10, 1), ttlS: 60 });
  t.equal(state.table.lookup('n3.bulk.example')?.record.ipv4[0], '10.1.0.3');
  t.equal(state.table.lookup('own.example')?.record.ipv4[0], '10.9.9.9', 'the static entries are merged in');
  t.equal(state.ttl, 60, 'the TTL moved with the table');
  t.equal(published.length, 1);
  await done;
  c.stop();
});

t.test('a large table is built over many turns; the old one answers until it is swapped in whole', async (t) => {
  const { c, state, units, published } = composer();
  await c.sourceUpdated({ inputs: inputs(100, 1) });
  const old = state.table;
  units.length = 0;
  const done = c.sourceUpdated({ inputs: inputs(20_000, 2), ttlS: 45 });
  let turns = 0;
  for (; turns < 100_000 && state.table === old; turns++) {
    t.equal(state.table.lookup('n5.bulk.example')?.record.ipv4[0], '10.1.0.5', 'old answers while building');
    t.equal(state.table.lookup('n19999.bulk.example'), undefined);
    await new Promise((r) => setImmediate(r));
  }
  await done;
  t.ok(turns >= 40, `the old table answered for ${turns} turns`);
  t.ok(Math.max(...units) <= 500 + 1, `no slice over its bound (largest ${Math.max(...units)})`);
  t.equal(state.table.lookup('n19999.bulk.example')?.record.ipv4[0], '10.2.78.31', 'the new table, whole');
  t.equal(state.table.lookup('n5.bulk.example')?.record.ipv4[0], '10.2.0.5');
  t.equal(state.ttl, 45);
  t.equal(state.clears, 2, 'names were added: the cache started afresh with the swap');
  t.equal(published.length, 2);
  c.stop();
});

t.test('a newer update wins over a build still under way', async (t) => {
  const { c, state, published } = composer();
  await c.sourceUpdated({ inputs: inputs(100, 1) });
  const swaps = state.swaps;
  const older = c.sourceUpdated({ inputs: inputs(20_000, 2) });
  await new Promise((r) => setImmediate(r));
  const newer = { inputs: inputs(20_000, 3) };
  const latest = c.sourceUpdated(newer);
  await Promise.all([older, latest]);
  t.equal(state.swaps, swaps + 1, 'only the newer table was swapped in');
  t.equal(state.table.lookup('n19999.bulk.example')?.record.ipv4[0], '10.3.78.31');
  t.equal(published.at(-1), newer, 'subscribers got the newer update');
  t.equal(published.length, 2);
  c.stop();
});

t.test('a static entry the source carries unchanged is answered from the source\'s own input, not a copy', async (t) => {
  const cfg = config();
  const { resolver, state } = fakeResolver();
  const c = new TableComposer({
    config: cfg,
    resolver,
    resolverOptions: (x) => ({ records: x.records }) as unknown as ResolverOptions,
    metrics: new Metrics({ processMetrics: false }),
    logger: createLogger('silent'),
  });
  const entry = cfg.records.entries[0];
  if (entry?.kind !== 'static') throw new Error('no static entry');
  // What a PrivateLink source reports for it: the config's own lists.
  const sourceInput: TableEntryInput = { id: 'static:own.example', names: entry.names, ipv4: entry.ipv4, ipv6: entry.ipv6 };
  const otherInputs = inputs(3, 1);
  await c.sourceUpdated({ inputs: [...otherInputs, sourceInput] });
  t.equal(state.table.inputs.length, 4);
  t.equal(state.table.inputs[3], sourceInput, 'the source\'s object is the table\'s');
  t.ok(otherInputs.every((input, i) => state.table.inputs[i] === input));
  // A static entry the source holds with other lists (the config changed first) takes the config's value.
  const stale: TableEntryInput = { ...sourceInput, ipv4: ['10.1.1.1'] };
  await c.sourceUpdated({ inputs: [stale] });
  t.not(state.table.inputs[0], stale);
  t.same(state.table.inputs[0]?.ipv4, ['10.9.9.9']);
  c.stop();
});
