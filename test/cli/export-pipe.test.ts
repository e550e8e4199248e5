import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLI } from '../helpers/daemon';

/**
 * `export` into a pipe whose reader stops once the zone starts to arrive: the CLI writes into a
 * pipe asynchronously, and exited 50 ms after its command returned, cutting the zone short (the
 * hub-memory bench's named once loaded 11,560 lines of 15,000). Every record must arrive.
 */
t.test('export into a pipe read slowly writes the whole zone before exiting', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pldns-export-pipe-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const names = 10_000;
  const lines: string[] = [];
  for (let i = 1; i <= names; i++) lines.push(`    - { names: ["n${i}.bulk.example"], addresses: ["10.${(i >> 8) & 255}.${i & 255}.1"] }`);
  const config = join(dir, 'config.yaml');
  writeFileSync(config, `region: cn-hangzhou\nlisten: { dns: ["127.0.0.1:0"] }\nupstream: { servers: ["127.0.0.1:53"] }\nrecords:\n  ttl: 30\n  entries:\n${lines.join('\n')}\ntransfer: { zone: privatelink.rpz, allow: ["127.0.0.0/8"] }\n`);
  const child = spawn(process.execPath, [CLI, 'export', '--config', config, '--format', 'rpz'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const chunks: Buffer[] = [];
  let paused = false;
  child.stdout.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    if (paused) return;
    // The first piece is in: stop reading for a while, so the zone fills the pipe and the remainder waits in the CLI.
    paused = true;
    child.stdout.pause();
    void sleep(500).then(() => child.stdout.resume());
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  t.equal(code, 0);
  const text = Buffer.concat(chunks).toString('utf8');
  t.ok(text.length > 512 * 1024, `the zone is larger than a pipe and its reader hold (${text.length} B)`);
  const records = text.split('\n').filter((l) => /\sIN\s+A\s/.test(l));
  t.equal(records.length, names, 'every name\'s A record arrived');
  t.ok(text.endsWith('\n'), 'the last line is whole');
});
