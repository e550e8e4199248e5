import t from 'tap';
import fc from 'fast-check';
import { frameMessage, TcpFrameReader } from '../../src/wire/tcp-frames';

/** The one TCP framing (server, upstream exchange, zone transfer client): any chunking gives the same messages. */

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);

t.test('a message split in every place, and many merged in one chunk', async (t) => {
  const msgs = [Buffer.from('first'), Buffer.alloc(0), Buffer.alloc(300, 7), Buffer.from('last')];
  const stream = Buffer.concat(msgs.map(frameMessage));
  t.same(new TcpFrameReader().push(stream), msgs, 'all in one chunk');
  const bytewise = new TcpFrameReader();
  const got: Buffer[] = [];
  for (const b of stream) got.push(...bytewise.push(Buffer.from([b])));
  t.same(got, msgs, 'one byte per chunk');
  t.equal(bytewise.bufferedBytes, 0);
});

t.test('append and take: one message at a time, the length known from its 2-byte prefix', async (t) => {
  const r = new TcpFrameReader();
  t.equal(r.nextLength, -1, 'nothing yet');
  t.notOk(r.hasMessage);
  r.append(Buffer.from([0x01]));
  t.equal(r.nextLength, -1, 'half a prefix');
  r.append(Buffer.from([0x02, 0xaa]));
  t.equal(r.nextLength, 0x0102, 'a prefix split over two chunks');
  t.notOk(r.hasMessage);
  t.equal(r.take(), undefined, 'incomplete: nothing to take');
  r.append(Buffer.concat([Buffer.alloc(0x0101, 0xbb), frameMessage(Buffer.from('next'))]));
  t.ok(r.hasMessage);
  const first = r.take() as Buffer;
  t.equal(first.length, 0x0102);
  t.equal(first[0], 0xaa);
  t.equal(r.bufferedBytes, 6, 'the next message is still held, untaken');
  t.same(r.take(), Buffer.from('next'));
  t.equal(r.take(), undefined);
  t.equal(r.bufferedBytes, 0);
});

t.test('a taken message is a copy: later chunks do not change it', async (t) => {
  const r = new TcpFrameReader();
  const chunk = frameMessage(Buffer.from('abc'));
  const [msg] = r.push(chunk);
  chunk.fill(0);
  t.same(msg, Buffer.from('abc'));
});

t.test('frameMessage refuses what a 2-byte length cannot say', async (t) => {
  t.throws(() => frameMessage(Buffer.alloc(65_536)), RangeError);
  t.equal(frameMessage(Buffer.alloc(65_535)).readUInt16BE(0), 65_535);
});

t.test('any messages, any chunking: the same messages in order (property)', async (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: 600 }), { maxLength: 8 }),
      fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 20 }),
      (raw, cuts) => {
        const msgs = raw.map((m) => Buffer.from(m));
        const stream = Buffer.concat(msgs.map(frameMessage));
        const r = new TcpFrameReader();
        const got: Buffer[] = [];
        for (let off = 0, i = 0; off < stream.length; i++) {
          const size = cuts[i % cuts.length] as number;
          got.push(...r.push(stream.subarray(off, off + size)));
          off += size;
        }
        return got.length === msgs.length && got.every((g, i) => g.equals(msgs[i] as Buffer)) && r.bufferedBytes === 0;
      },
    ),
    { numRuns: RUNS },
  );
  t.pass(`${RUNS} runs`);
});
