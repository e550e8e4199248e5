import t from 'tap';
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { parseIpv6Groups } from '../../src/wire/ipv6-groups';

function groups(text: string): number[] | undefined {
  const out = new Int32Array(8);
  return parseIpv6Groups(text, out) ? [...out] : undefined;
}

t.test('the written forms', async (t) => {
  t.same(groups('::'), [0, 0, 0, 0, 0, 0, 0, 0]);
  t.same(groups('::1'), [0, 0, 0, 0, 0, 0, 0, 1]);
  t.same(groups('0:0:0:0:0:0:0:1'), [0, 0, 0, 0, 0, 0, 0, 1]);
  t.same(groups('2001:DB8::A:b'), [0x2001, 0xdb8, 0, 0, 0, 0, 0xa, 0xb], 'any case');
  t.same(groups('fe80::1%eth0'), [0xfe80, 0, 0, 0, 0, 0, 0, 1], 'the zone is ignored');
  t.same(groups('1::'), [1, 0, 0, 0, 0, 0, 0, 0]);
  t.same(groups('::ffff:192.0.2.1'), [0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0201], 'dotted tail');
  t.same(groups('::192.0.2.1'), [0, 0, 0, 0, 0, 0, 0xc000, 0x0201]);
  t.same(groups('1:2:3:4:5:6:10.0.0.1'), [1, 2, 3, 4, 5, 6, 0x0a00, 1]);
});

t.test('not addresses', async (t) => {
  for (const bad of ['', ':', ':::', '1::2::3', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '12345::', 'g::', ':1', '1:', '1.2.3.4', '::1.2.3', '::1.2.3.256', '::1.2.3.4.5', '1:2:3:4:5:6:7:1.2.3.4', '1::2:3:4:5:6:7:8']) {
    t.equal(groups(bad), undefined, JSON.stringify(bad));
  }
});

t.test('agrees with ipaddr.js on generated addresses in every text form', async (t) => {
  const group = fc.integer({ min: 0, max: 0xffff });
  fc.assert(
    fc.property(fc.array(group, { minLength: 8, maxLength: 8 }), fc.boolean(), fc.boolean(), (parts, upper, dotted) => {
      const addr = new ipaddr.IPv6(parts);
      const forms = [addr.toString(), addr.toNormalizedString(), parts.map((g) => g.toString(16).padStart(4, '0')).join(':')];
      if (dotted) forms.push(`${parts.slice(0, 6).map((g) => g.toString(16)).join(':')}:${parts[6] >> 8}.${parts[6] & 0xff}.${parts[7] >> 8}.${parts[7] & 0xff}`);
      for (const form of forms) {
        const text = upper ? form.toUpperCase() : form;
        const got = groups(text);
        if (got === undefined || got.some((g, i) => g !== parts[i])) throw new Error(`${text}: ${JSON.stringify(got)} != ${JSON.stringify(parts)}`);
      }
    }),
    { numRuns: 500 },
  );
  t.pass('500 addresses, every form parsed to its groups');
});

t.test('rejects what ipaddr.js rejects (short strings of address characters)', async (t) => {
  fc.assert(
    fc.property(fc.string({ unit: fc.constantFrom('0', '1', 'f', ':', '.', '9'), maxLength: 12 }), (text) => {
      const ours = groups(text) !== undefined;
      const theirs = ipaddr.IPv6.isValid(text);
      if (ours !== theirs) throw new Error(`${JSON.stringify(text)}: ours ${ours}, ipaddr ${theirs}`);
    }),
    { numRuns: 3000 },
  );
  t.pass('3000 strings, same verdict');
});
