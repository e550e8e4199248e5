import t from 'tap';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { startDaemon } from '../helpers/daemon';
import { requireTool } from '../helpers/tools';

/**
 * The README's quick start, run as written: `serve --demo` (on free ports, with the documented
 * --dns/--http flags), then every command of the "In another shell" block with the demo's ports
 * swapped in. Each must exit 0, and where its comment shows output (`# {"ready":true}`) that
 * output must appear.
 */

const README = readFileSync(resolve(__dirname, '..', '..', 'README.md'), 'utf8');

function quickStartBlock(): string[] {
  const after = README.slice(README.indexOf('In another shell:'));
  const block = /```sh\n([\s\S]*?)```/.exec(after)?.[1] ?? '';
  return block.split('\n').filter((l) => l.trim() !== '');
}

function sh(command: string): Promise<{ code: number; out: string }> {
  return new Promise((done) => {
    execFile('sh', ['-c', command], { timeout: 20_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` });
    });
  });
}

t.test('every quick-start command runs against the demo', async (t) => {
  for (const tool of ['dig', 'curl', 'grep']) requireTool(tool);
  const lines = quickStartBlock();
  t.ok(lines.length >= 5, `found the block (${lines.length} commands)`);
  const daemon = await startDaemon('', { args: ['serve', '--demo', '--dns', '127.0.0.1:0', '--http', '127.0.0.1:0'] });
  t.teardown(() => daemon.stop());
  await daemon.waitForLog((l) => l.msg === 'addresses changed' || l.msg === 'entry added', 20_000);
  for (const line of lines) {
    const [command = '', comment = ''] = line.split(/\s+#\s+/, 2);
    const run = command.replace(/-p 5353\b/g, `-p ${daemon.dnsPort}`).replace(/127\.0\.0\.1:8053\b/g, `127.0.0.1:${daemon.httpPort}`);
    t.notMatch(run, /\b(5353|8053)\b/, `the demo's ports swapped in: ${run}`);
    const r = await sh(run);
    t.equal(r.code, 0, `${command}\n${r.out}`);
    if (/^\{.*\}$/.test(comment.trim())) t.match(r.out, comment.trim(), `${command}: prints ${comment.trim()}`);
    if (command.startsWith('dig ')) t.match(r.out, /status: NOERROR/, `${command}: NOERROR`);
  }
});
