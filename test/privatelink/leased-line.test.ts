/**
 * Reaching the API over a leased line: the daemon connects to an IP (privatelink.connect_to)
 * while TLS SNI and the Host header carry the real API host name, and trusts a private CA from
 * privatelink.ca_file. The simulator serves HTTPS with a certificate for that name only.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Config } from '../../src/config/schema';
import { parseConfigText } from '../../src/config/load';
import { ApiClientProvider } from '../../src/privatelink/api-provider';
import { Syncer, noSyncObserver } from '../../src/privatelink/sync';
import { DEMO_SIMULATOR_DATA, startSimulator } from '../../src/simulator';
import { captureLogger } from '../helpers/privatelink-fake';
import { CLI } from '../helpers/daemon';
import { makeTestCa } from '../helpers/test-ca';

const API_HOST = 'privatelink-vpc.cn-hangzhou.aliyuncs.com';

function config(privatelink: string, baseDir: string): Config {
  const text = `region: cn-hangzhou
privatelink:
${privatelink}
  credentials: { type: access_key, access_key_id: simulator, access_key_secret: simulator }
  timeout: 2s
records:
  entries:
    - { names: ["cs-anony-vpc.cn-hangzhou.aliyuncs.com"], endpoint: ep-bp1g7k2m9x4q8w3z5 }
state_dir: false
`;
  const { config: c, problems } = parseConfigText(text, { files: { baseDir, readText: (p) => require('node:fs').readFileSync(p, 'utf8') } });
  if (!c) throw new Error(JSON.stringify(problems));
  return c;
}

async function syncWith(c: Config) {
  const { logger } = captureLogger();
  const clients = new ApiClientProvider(c, logger);
  try {
    return await new Syncer({ api: clients.provide, config: c, observer: noSyncObserver, logger, onState: () => {} }).syncOnce();
  } finally {
    clients.close();
  }
}

t.test('HTTPS to an IP with the real host name in SNI and Host, trusting ca_file', async (t) => {
  const ca = makeTestCa([API_HOST]);
  const sim = await startSimulator({ port: 0, data: DEMO_SIMULATOR_DATA, tls: { key: ca.key, cert: ca.cert } });
  t.teardown(() => sim.close());

  const good = config(`  endpoint: "${API_HOST}:${sim.port}"\n  connect_to: 127.0.0.1\n  ca_file: ca.pem`, ca.dir);
  t.equal(good.privatelink.connectTo, '127.0.0.1');
  t.match(good.privatelink.caPem, /BEGIN CERTIFICATE/, 'ca_file is read relative to the config');
  const out = await syncWith(good);
  t.equal(out.result, 'success', JSON.stringify(out.errors));
  t.same(out.inputs[0]?.ipv4, ['192.168.10.21', '192.168.20.21', '192.168.30.21']);
  const seen = sim.requests();
  t.ok(seen.length >= 2, 'the simulator saw the calls');
  for (const r of seen) {
    t.equal(r.servername, API_HOST, 'TLS SNI carries the API host name');
    t.equal(r.host, `${API_HOST}:${sim.port}`, 'so does the Host header (and the signature covers it)');
  }

  const untrusted = await syncWith(config(`  endpoint: "${API_HOST}:${sim.port}"\n  connect_to: 127.0.0.1`, ca.dir));
  t.equal(untrusted.result, 'failure', 'without ca_file the private CA is not trusted');
  t.equal(untrusted.errors[0]?.code, 'PL_NETWORK');
  t.match(String(untrusted.errors[0]?.details?.errno), /UNABLE_TO_VERIFY|SELF_SIGNED|CERT/);

  const wrongName = await syncWith(config(`  endpoint: "privatelink.cn-hangzhou.aliyuncs.com:${sim.port}"\n  connect_to: 127.0.0.1\n  ca_file: ca.pem`, ca.dir));
  t.equal(wrongName.errors[0]?.code, 'PL_NETWORK', 'a certificate for another name is refused: the name is really checked');
  t.match(String(wrongName.errors[0]?.details?.errno), /ALTNAME|CERT/);
});

t.test('connect_to must be an IP; ca_file must hold a certificate', async (t) => {
  const bad = parseConfigText('region: cn-hangzhou\nprivatelink: { connect_to: api.example.com, ca_file: /nonexistent/ca.pem }\n');
  t.same(bad.problems.map((p) => p.path).sort(), ['privatelink.ca_file', 'privatelink.connect_to']);
});

t.test('ca_file adds to the trust store: NODE_EXTRA_CA_CERTS stays trusted alongside it (issue 25 item 6)', async (t) => {
  // CA "api" signs the API's certificate and is given as ca_file; CA "proxy" signs the credentials
  // service's and is given only as NODE_EXTRA_CA_CERTS, as a data center's inspecting proxy would be.
  const apiCa = makeTestCa([API_HOST]);
  const proxyCa = makeTestCa(['127.0.0.1']);
  t.teardown(() => {
    rmSync(apiCa.dir, { recursive: true, force: true });
    rmSync(proxyCa.dir, { recursive: true, force: true });
  });
  const sim = await startSimulator({ port: 0, data: DEMO_SIMULATOR_DATA, tls: { key: apiCa.key, cert: apiCa.cert } });
  t.teardown(() => sim.close());
  let asked = 0;
  const uri = createHttpsServer({ key: proxyCa.key, cert: proxyCa.cert }, (_req, res) => {
    asked++;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ AccessKeyId: 'simulator', AccessKeySecret: 'simulator', SecurityToken: 'from-uri', Expiration: new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z') }));
  });
  await new Promise<void>((resolve) => uri.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => uri.close(() => resolve())));
  const configFile = join(apiCa.dir, 'config.yaml');
  writeFileSync(configFile, `region: cn-hangzhou
privatelink:
  endpoint: "${API_HOST}:${sim.port}"
  connect_to: 127.0.0.1
  ca_file: ca.pem
  credentials: { type: credentials_uri, credentials_uri: "https://127.0.0.1:${(uri.address() as AddressInfo).port}/credentials" }
  timeout: 5s
records:
  entries:
    - { names: ["cs-anony-vpc.cn-hangzhou.aliyuncs.com"], endpoint: ep-bp1g7k2m9x4q8w3z5 }
state_dir: false
`);
  const run = (env: Record<string, string>) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(process.execPath, [CLI, 'sync', '--config', configFile], { env: { PATH: process.env.PATH ?? '', HOME: apiCa.dir, ...env }, timeout: 30_000 }, (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
      });
      child.stdin?.end();
    });

  const both = await run({ NODE_EXTRA_CA_CERTS: proxyCa.caFile });
  t.equal(both.code, 0, `both trusted in one process: ${both.stderr}`);
  t.match(both.stdout, /192\.168\.10\.21/, 'the API answered (ca_file trusted)');
  t.ok(asked >= 1, 'the credentials service answered (NODE_EXTRA_CA_CERTS still trusted)');

  const noExtra = await run({});
  t.equal(noExtra.code, 1, 'without NODE_EXTRA_CA_CERTS the credentials service is not trusted');
  t.match(noExtra.stderr, /PL_CREDENTIALS/);
});
