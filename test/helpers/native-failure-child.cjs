'use strict';
// Run by test/native/addon-failure-paths.test.ts as `node --expose-gc this-file addon.node`: the
// addon is a test build whose uv_poll_init / uv_poll_start fail when $PLDNS_TEST_FAIL names them
// (native-fail-shim.c). open() and upOpen() are made to fail at each of those steps ROUNDS times;
// the report (JSON on stdout) says what each failure left behind: descriptors, JavaScript
// objects the addon referenced (the shared Buffers, the callback) and async resources never
// destroyed.
const { readdirSync } = require('node:fs');
const asyncHooks = require('node:async_hooks');

const addon = require(process.argv[2]);
const ROUNDS = 10;
const RESOURCE = { open: 'PldnsUdpBatch', upOpen: 'PldnsUpstreamUdp' };

const liveResources = new Map(); // async id -> type, from init until destroy
asyncHooks
  .createHook({
    init(id, type) {
      if (type === RESOURCE.open || type === RESOURCE.upOpen) liveResources.set(id, type);
    },
    destroy(id) {
      liveResources.delete(id);
    },
  })
  .enable();

let registered = 0;
let collected = 0;
const registry = new FinalizationRegistry(() => collected++);
const track = (value) => {
  registry.register(value, undefined);
  registered++;
  return value;
};

function argumentsFor(kind) {
  const b = addon;
  if (kind === 'open') {
    const bufs = [b.BATCH * b.SLOT, b.BATCH * b.META, b.BATCH * b.SLOT, b.BATCH * 8].map((n) => track(Buffer.alloc(n)));
    return [4, '127.0.0.1', 0, 0, ...bufs, track(() => {})];
  }
  return [track(Buffer.alloc(b.UP_BATCH * b.UP_SLOT)), track(Buffer.alloc(b.UP_BATCH * 8)), track(() => {})];
}

/** One call that is meant to fail; its arguments are unreachable once it returns. */
function attempt(kind) {
  const args = argumentsFor(kind);
  try {
    addon[kind](...args);
    return 'no error';
  } catch (err) {
    return `${err.code}: ${err.message}`;
  }
}

const fdCount = () => readdirSync('/proc/self/fd').length;
const live = (kind) => [...liveResources.values()].filter((t) => t === RESOURCE[kind]).length;

async function settle(kind) {
  // Close callbacks, destroy hooks and finalizers run on later turns of the loop (bounded).
  for (let i = 0; i < 50 && (collected < registered || live(kind) > 0); i++) {
    await new Promise((resolve) => setImmediate(resolve));
    global.gc();
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function main() {
  const report = {};
  for (const step of ['uv_poll_init', 'uv_poll_start']) {
    for (const kind of ['open', 'upOpen']) {
      await settle(kind);
      registered = 0;
      collected = 0;
      const fdsBefore = fdCount();
      process.env.PLDNS_TEST_FAIL = step;
      const errors = new Set();
      for (let i = 0; i < ROUNDS; i++) errors.add(attempt(kind));
      delete process.env.PLDNS_TEST_FAIL;
      await settle(kind);
      report[`${kind} failing at ${step}`] = { errors: [...errors], fdsBefore, fdsAfter: fdCount(), registered, collected, liveAsyncResources: live(kind) };
    }
  }
  // The same build works when nothing is made to fail.
  const b = addon;
  const h = b.open(4, '127.0.0.1', 0, 0, Buffer.alloc(b.BATCH * b.SLOT), Buffer.alloc(b.BATCH * b.META), Buffer.alloc(b.BATCH * b.SLOT), Buffer.alloc(b.BATCH * 8), () => {});
  report.openedPort = b.localPort(h);
  b.close(h);
  process.stdout.write(JSON.stringify(report));
}

main().catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exitCode = 1;
});
