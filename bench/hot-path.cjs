// Per-query CPU of the managed-answer path without sockets, through the edge pipeline the UDP and
// TCP servers use: parse, admission (access list, rate limit), lookup, answer bytes, metrics.
// `npm run build && node bench/hot-path.cjs`. Prints ns per query.
const { AnswerTable } = require('../dist/resolve/table');
const { Resolver } = require('../dist/resolve/resolver');
const { Metrics } = require('../dist/metrics/metrics');
const { resolverObserver } = require('../dist/metrics/observers');
const { AdmissionPolicy } = require('../dist/resolve/admission');
const { QueryPipeline } = require('../dist/server/pipeline');
const { pipelineCounters } = require('../dist/metrics/observers');
const pino = require('pino');
const m = new Metrics({ processMetrics: false });
const table = AnswerTable.build([{ id: 'x', names: ['cs-anony-vpc.cn-hangzhou.aliyuncs.com'], ipv4: ['192.168.1.1', '192.168.2.1'], ipv6: [] }], 1);
const r = new Resolver(table, { records: { ttl: 30, preferZones: [], onUnavailable: 'servfail', entries: [] }, forwarder: { hasServers: false }, observer: resolverObserver(m), logger: pino({ level: 'silent' }), logQueries: false });
const admission = new AdmissionPolicy({ allow: ['127.0.0.0/8'], rateLimit: { responsesPerSecond: 1000, burst: 2000, slip: 2 } }, { limited() {} });
const pipeline = new QueryPipeline({ handler: r.handle, admit: admission.check }, pipelineCounters(m), pino({ level: 'silent' }));
const out = { send(b) { sink += b.length; }, hold() { return () => {}; } };
const q = Buffer.from('1234010000010000000000010c63732d616e6f6e792d7670630b636e2d68616e677a686f7508616c6979756e637303636f6d00000100010000291000000000000000', 'hex');
const client = { address: '127.0.0.1', port: 5555 };
let n = 2_000_000, sink = 0;
for (let k = 0; k < 3; k++) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    pipeline.serve(q, client, 'udp', out);
  }
  const ns = Number(process.hrtime.bigint() - t0) / n;
  console.log(`${ns.toFixed(0)} ns/query`);
}
