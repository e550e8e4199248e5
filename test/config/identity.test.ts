import t from 'tap';
import { hostname } from 'node:os';
import { formatProblems, parseConfigText } from '../../src/config/load';
import { hostDnsName } from '../../src/config/identity';

/** `nsid` and `records.nameservers`: raw YAML text → the value, or the `path: problem` line. */

const BASE = 'region: cn-hangzhou\n';

function value(yaml: string) {
  const r = parseConfigText(BASE + yaml);
  if (!r.config) throw new Error(formatProblems(r.problems).join('\n'));
  return { nsid: r.config.nsid, nameservers: r.config.records.nameservers };
}

function problems(yaml: string): string[] {
  return formatProblems(parseConfigText(BASE + yaml).problems);
}

t.test('defaults: the host name for both', async (t) => {
  t.same(value(''), { nsid: hostname(), nameservers: [hostDnsName()] });
});

t.test('values as given', async (t) => {
  t.same(value('nsid: "edge-7 (cn-hangzhou-j)"\n').nsid, 'edge-7 (cn-hangzhou-j)');
  t.equal(value('nsid: false\n').nsid, null, 'false: no NSID');
  t.same(value('records: { nameservers: ["NS1.Example.NET.", "ns2.example.net", "ns1.example.net"] }\n').nameservers, ['ns1.example.net', 'ns2.example.net'], 'normalized, duplicates once');
});

t.test('problems', async (t) => {
  t.same(problems(`nsid: "${'x'.repeat(129)}"\n`), ['nsid: must be at most 128 bytes']);
  t.same(problems('nsid: "caf\u00e9"\n'), ['nsid: must be printable ASCII']);
  t.same(problems('nsid: ""\n'), ['nsid: must be a non-empty string, or false to answer no NSID']);
  t.same(problems('nsid: 7\n'), ['nsid: must be a non-empty string, or false to answer no NSID']);
  t.same(problems('records: { nameservers: [] }\n'), ['records.nameservers: must not be empty']);
  t.same(problems('records: { nameservers: ["bad name.example"] }\n'), ['records.nameservers[0]: label "bad name" is not valid in a DNS name']);
});

t.test('a host name that is no DNS name gives localhost as the apex NS', async (t) => {
  t.equal(hostDnsName('Node-1.Example.'), 'node-1.example');
  t.equal(hostDnsName('host with spaces'), 'localhost');
  t.equal(hostDnsName(''), 'localhost');
});
