import t from 'tap';
import { nameToWire, uncompressedNameEnd, wireToName } from '../../src/wire/name-codec';

/** The one walk over plain labels, and reading a name at an offset. */

t.test('uncompressedNameEnd: the offset past the name, or -1', async (t) => {
  const name = nameToWire('www.Example.com');
  const buf = Buffer.concat([Buffer.from([9, 9]), name, Buffer.from([1, 2])]);
  t.equal(uncompressedNameEnd(buf, 2), 2 + name.length);
  t.equal(wireToName(buf, 2), 'www.example.com');
  t.equal(uncompressedNameEnd(Buffer.from([0]), 0), 1, 'the root');
  t.equal(wireToName(Buffer.from([0]), 0), '');
  t.equal(uncompressedNameEnd(Buffer.from([3, 0x61, 0x62]), 0), -1, 'a label past the end');
  t.equal(uncompressedNameEnd(Buffer.from([1, 0x61]), 0), -1, 'no root label');
  t.equal(uncompressedNameEnd(Buffer.from([0xc0, 0x0c]), 0), -1, 'a compression pointer');
  t.equal(uncompressedNameEnd(Buffer.from([64, ...new Array(64).fill(0x61), 0]), 0), -1, 'a 64-byte label');
  const long = Buffer.from([...Array.from({ length: 4 }, () => [63, ...new Array(63).fill(0x61)]).flat(), 0]);
  t.equal(long.length, 257);
  t.equal(uncompressedNameEnd(long, 0), -1, 'a name over 255 bytes');
  const max = Buffer.from([...Array.from({ length: 3 }, () => [63, ...new Array(63).fill(0x61)]).flat(), 61, ...new Array(61).fill(0x61), 0]);
  t.equal(uncompressedNameEnd(max, 0), 255, 'a name of exactly 255 bytes');
});
