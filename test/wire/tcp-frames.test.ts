import t from 'tap';
import fc from 'fast-check';
import { frameMessage, TcpFrameReader } from '../../src/wire/tcp-frames';
import { ScratchBuffer } from '../../src/wire/scratch-buffer';

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

/** Up to 8 messages of up to 600 bytes, and the chunk sizes a stream of them is cut into. */
const anyMessages = fc.array(fc.uint8Array({ maxLength: 600 }), { maxLength: 8 });
const anyCuts = fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 20 });
function framed(raw: Uint8Array[]): { msgs: Buffer[]; stream: Buffer } {
  const msgs = raw.map((m) => Buffer.from(m));
  return { msgs, stream: Buffer.concat(msgs.map(frameMessage)) };
}

t.test('any messages, any chunking: the same messages in order (property)', async (t) => {
  fc.assert(
    fc.property(
      anyMessages,
      anyCuts,
      (raw, cuts) => {
        const { msgs, stream } = framed(raw);
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

t.test('takeInto: the message copied into the scratch buffer, whatever chunks it came in', async (t) => {
  const scratch = new ScratchBuffer(1024);
  const r = new TcpFrameReader();
  const a = Buffer.alloc(300, 0xa1);
  const b = Buffer.alloc(300, 0xb2);
  const stream = Buffer.concat([frameMessage(a), frameMessage(b), frameMessage(Buffer.from('tail'))]);
  // The first message over three chunks (its prefix split too), the second and part of the third in one.
  r.append(stream.subarray(0, 1));
  t.equal(r.takeInto(scratch), undefined, 'half a prefix: nothing');
  r.append(stream.subarray(1, 100));
  r.append(stream.subarray(100, 607));
  const first = r.takeInto(scratch) as Buffer;
  t.ok(first.equals(a), 'spread over three chunks');
  const second = r.takeInto(scratch) as Buffer;
  t.ok(second.equals(b), 'the next one, from the middle of a chunk');
  t.equal(second, first, 'the same view for the same length: nothing allocated');
  t.equal(r.takeInto(scratch), undefined, 'the third is incomplete');
  r.append(stream.subarray(607));
  t.same(r.takeInto(scratch), Buffer.from('tail'));
  t.equal(r.bufferedBytes, 0);
});

t.test('takeInto and take give the same messages for any chunking (property)', async (t) => {
  const scratch = new ScratchBuffer();
  fc.assert(
    fc.property(
      anyMessages,
      anyCuts,
      (raw, cuts) => {
        const { msgs, stream } = framed(raw);
        const r = new TcpFrameReader();
        let i = 0;
        let ok = true;
        for (let off = 0, c = 0; off < stream.length; c++) {
          const size = cuts[c % cuts.length] as number;
          r.append(stream.subarray(off, off + size));
          off += size;
          for (let m = r.takeInto(scratch); m !== undefined; m = r.takeInto(scratch)) ok &&= m.equals(msgs[i++] as Buffer);
        }
        return ok && i === msgs.length && r.bufferedBytes === 0;
      },
    ),
    { numRuns: RUNS },
  );
  t.pass(`${RUNS} runs`);
});
