/**
 * `privatelink-dns simulate --tls-cert --tls-key` serves HTTPS: a client that trusts the CA
 * reaches the control API under the certificate's name; one that does not is refused.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { request } from 'node:https';
import { join, resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import { makeTestCa } from '../helpers/test-ca';

const CLI = resolve(__dirname, '..', '..', 'dist', 'cli.js');
const NAME = 'privatelink-vpc.cn-hangzhou.aliyuncs.com';

function get(port: number, ca: string | undefined): Promise<{ status: number; body: string }> {
  return new Promise((resolvePromise, reject) => {
    const options = { host: '127.0.0.1', port, servername: NAME, path: '/_simulator/calls', headers: { host: NAME }, ...(ca ? { ca } : {}), timeout: 5000 };
    const req = request(options, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

t.test('simulate serves HTTPS with the given certificate', async (t) => {
  const ca = makeTestCa([NAME]);
  const writeFiles = { cert: join(ca.dir, 'leaf.pem'), key: join(ca.dir, 'leaf.key') };
  const args = ['simulate', '--listen', '127.0.0.1:0', '--tls-cert', writeFiles.cert, '--tls-key', writeFiles.key];
  const proc = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => void proc.kill('SIGTERM'));
  const first = await new Promise<string>((resolveLine, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no start line: ${out}`)), 15_000);
    proc.stdout.on('data', (d) => {
      out += d;
      if (out.includes('\n')) {
        clearTimeout(timer);
        resolveLine(out.split('\n')[0] as string);
      }
    });
  });
  const started = JSON.parse(first) as { url: string; endpoint: string };
  t.match(started.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const port = Number(started.endpoint.split(':')[1]);
  const ok = await get(port, readFileSync(ca.caFile, 'utf8'));
  t.equal(ok.status, 200);
  t.match(JSON.parse(ok.body), { total: 0 });
  await t.rejects(get(port, undefined), /self[- ]signed|unable to verify|UNABLE_TO_VERIFY/i, 'without the CA the certificate is refused');
});
