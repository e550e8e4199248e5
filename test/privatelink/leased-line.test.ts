/**
 * Reaching the API over a leased line: the daemon connects to an IP (privatelink.connect_to)
 * while TLS SNI and the Host header carry the real API host name, and trusts a private CA from
 * privatelink.ca_file. The simulator serves HTTPS with a certificate for that name only.
 */
import t from 'tap';
import type { Config } from '../../src/config/schema';
import { parseConfigText } from '../../src/config/load';
import { ApiClientProvider } from '../../src/privatelink/api-provider';
import { Syncer, noSyncObserver } from '../../src/privatelink/sync';
import { DEMO_SIMULATOR_DATA, startSimulator } from '../../src/simulator';
import { captureLogger } from '../helpers/privatelink-fake';
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
