'use strict';
// Child process for the crash test in test/privatelink/snapshot.test.ts: saves the two states in
// the JSON files argv[3] and argv[4] alternately into the directory argv[2], with the built
// saveSnapshot (dist/), until it is killed. Prints "ready" once the first save landed. Plain
// CommonJS on dist/, so each start costs a node start, not a TypeScript compile of src/.
const { readFileSync } = require('node:fs');
const { join } = require('node:path');
const { saveSnapshot } = require(join(__dirname, '..', '..', 'dist', 'privatelink', 'snapshot.js'));

async function main() {
  const [dir, a, b] = process.argv.slice(2);
  if (!dir || !a || !b) throw new Error('usage: snapshot-writer.cjs DIR STATE_A.json STATE_B.json');
  const states = [JSON.parse(readFileSync(a, 'utf8')), JSON.parse(readFileSync(b, 'utf8'))];
  for (let i = 0; ; i++) {
    await saveSnapshot(dir, states[i % 2]);
    if (i === 0) process.stdout.write('ready\n');
  }
}

main().catch((err) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});
