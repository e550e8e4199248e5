// When do a batch's replies leave? In-process, without dnsperf: bursts of N managed queries, sent
// within one turn of the loop so each is read as one recvmmsg batch, through the real
// BatchTransport and query pipeline, with a test copy of the addon whose recvmmsg/sendmmsg are
// timed (bench/lib/reply-timing-shim.c). Per burst size: time from the batch's recvmmsg to the
// sendmmsg that sent each reply (mean, p50/p90/p99, the batch's last reply), sendmmsg calls per
// batch and their time per reply. Wall-clock, but inside one batch: take medians over many bursts
// and compare builds in the same run (--root DIR, a tree with dist/ and node_modules/).
// `npm run build && node bench/reply-timing.cjs [--bursts 400] [--sizes 1,8,16,32,64] [--root DIR]`
'use strict';
const dgram = require('node:dgram');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const root = path.resolve(arg('--root', path.join(__dirname, '..')));
const bursts = Number(arg('--bursts', '400'));
const sizes = arg('--sizes', '1,8,16,32,64').split(',').map(Number);
const WARM = 20;

const dist = (m) => require(path.join(root, 'dist', m));
const { compileAddon } = dist('native/build');
const { BatchTransport } = dist('server/udp-batch');
const { AnswerTable } = dist('resolve/table');
const { Resolver } = dist('resolve/resolver');
const { Metrics } = dist('metrics/metrics');
const { resolverObserver, pipelineCounters } = dist('metrics/observers');
const { QueryPipeline } = dist('server/pipeline');
const pino = require(path.join(root, 'node_modules', 'pino'));

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pldns-reply-timing-'));
process.on('exit', () => fs.rmSync(work, { recursive: true, force: true }));
const addonFile = path.join(work, 'pldns_timed.node');
const problem = compileAddon(addonFile, [path.join(__dirname, 'lib', 'reply-timing-shim.c'), '-Drecvmmsg=timed_recvmmsg', '-Dsendmmsg=timed_sendmmsg']);
if (problem) throw new Error(`cannot build the timed addon: ${problem}`);
const timingFile = path.join(work, 'timing.jsonl');
process.env.PLDNS_TIMING_FILE = timingFile;
const binding = require(addonFile);

const silent = pino({ level: 'silent' });
const metrics = new Metrics({ processMetrics: false });
const name = 'cs-anony-vpc.cn-hangzhou.aliyuncs.com';
const table = AnswerTable.build([{ id: 'x', names: [name], ipv4: ['10.8.0.11', '10.8.1.11'], ipv6: [] }], 1);
const resolver = new Resolver(table, { records: { ttl: 30, preferZones: [], onUnavailable: 'servfail', entries: [] }, forwarder: { hasServers: false }, observer: resolverObserver(metrics), logger: silent, logQueries: false });
const pipeline = new QueryPipeline({ handler: resolver.handle, admit: () => 'pass' }, pipelineCounters(metrics), silent);
const transport = new BatchTransport(binding, { address: { host: '127.0.0.1', port: 0, family: 4 }, label: 'udp://timing', socketBufferBytes: 4 << 20, counters: pipelineCounters(metrics), logger: silent });
const out = { copiesReplies: true, stampsArrival: true, send: (b) => transport.replyNow(b), hold: () => () => {} };

function query(id) {
  const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  const head = Buffer.from([id >> 8, id & 255, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
  return Buffer.concat([head, ...labels, Buffer.from([0, 0, 1, 0, 1])]);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

(async () => {
  const port = await transport.start((msg, client) => pipeline.serve(msg, client, 'udp', out));
  const client = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
  await new Promise((r) => client.bind(0, '127.0.0.1', r));
  const q = query(1);
  let got = 0;
  let want = 0;
  let done = () => {};
  client.on('message', () => {
    if (++got === want) done();
  });
  for (const n of sizes) {
    process.env.PLDNS_TIMING_N = String(n);
    await sleep(300); // the next recvmmsg closes the previous window (> 150 ms apart)
    for (let b = 0; b < WARM + bursts; b++) {
      got = 0;
      want = n;
      const answered = new Promise((r) => (done = r));
      const limit = setTimeout(() => done(), 2000);
      for (let i = 0; i < n; i++) client.send(q, port, '127.0.0.1');
      await answered;
      clearTimeout(limit);
      if (b === WARM - 1) {
        await sleep(300); // warm-up batches go into their own window
        process.env.PLDNS_TIMING_N = String(n);
      }
    }
  }
  await sleep(300);
  client.send(q, port, '127.0.0.1'); // closes the last window
  await sleep(100);
  client.close();
  await transport.close();
  const rows = fs.readFileSync(timingFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  // Each size wrote its warm-up window, then its measured one.
  const measured = sizes.map((n) => rows.filter((r) => r.n === n).pop()).filter(Boolean);
  console.log(`reply timing, ${path.relative(process.cwd(), root) || '.'}: ${bursts} bursts per size, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log('batch  batches  recv→send µs: mean   p50   p90   p99   last-of-batch p50/p90   sendmmsg calls/batch   µs in sendmmsg/reply');
  for (const r of measured) {
    console.log(`${String(r.n).padStart(5)}  ${String(r.batches).padStart(7)}  ${r.meanUs.toFixed(1).padStart(18)} ${String(r.p50Us).padStart(5)} ${String(r.p90Us).padStart(5)} ${String(r.p99Us).padStart(5)}   ${`${r.lastP50Us}/${r.lastP90Us}`.padStart(21)}   ${r.sendCallsPerBatch.toFixed(2).padStart(20)}   ${r.sendUsPerReply.toFixed(2).padStart(20)}`);
  }
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
