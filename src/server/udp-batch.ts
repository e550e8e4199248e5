import ipaddr from 'ipaddr.js';
import { PldnsError } from '../errors';
import type { BatchHandle, NativeAddon } from '../native/addon';
import type { ClientAddress } from './request';
import { ScratchBuffer } from '../wire/scratch-buffer';
import { copyBytes } from '../wire/response';
import { queryClock } from './query-clock';
import type { DatagramSink, UdpTransport, UdpTransportOptions } from './udp-transport';

/**
 * UDP through the native addon's listener batches: one recvmmsg, one JS call and one sendmmsg per batch of up to
 * 64 datagrams (src/native/udp_batch.c). Replies produced while a batch is handled are copied
 * into the shared output slots and leave together when the batch ends; later replies (forwarded
 * queries) are gathered with a copy of the sender's peer record and leave together at the end of
 * the loop turn that produced them (one sendmmsg per turn instead of one sendmsg per reply). On a
 * socket bound to 0.0.0.0 or :: every reply leaves from the address its query was sent to
 * (IP_PKTINFO), which Node's dgram cannot do.
 */
export class BatchTransport implements UdpTransport {
  readonly engine = 'batch';
  private handle: BatchHandle | undefined;
  private sink: DatagramSink | undefined;
  private readonly input: Buffer;
  private readonly meta: Buffer;
  private readonly metaWords: Int32Array;
  private readonly metaShorts: Uint16Array;
  private readonly output: Buffer;
  private readonly outMeta: Buffer;
  private readonly outWords: Int32Array;
  private current = -1;
  private outCount = 0;
  // Late replies of this loop turn: peer records, reply slots, lengths (see sendMany).
  private readonly latePeers: Buffer;
  private readonly lateOut: Buffer;
  private readonly lateLengths: Buffer;
  private readonly lateWords: Int32Array;
  private lateCount = 0;
  private lateScheduled = false;
  // Client address strings are rebuilt only when the sender changes (a busy client repeats).
  private lastV4Key = -1;
  private lastV4 = '';
  private readonly lastV6Bytes = Buffer.alloc(16);
  private lastV6 = '';
  // Nothing allocated per datagram (issue 26): the datagram is copied into a reused view of its
  // length and the sender into one reused ClientAddress; the pipeline detaches what it keeps.
  private readonly messages: ScratchBuffer;
  private readonly client = { address: '', port: 0 };

  constructor(private readonly binding: NativeAddon, private readonly options: UdpTransportOptions) {
    const { BATCH, SLOT, META } = binding;
    // Own ArrayBuffers (not the shared pool): the addon keeps raw pointers into them. The slot
    // areas are not zero-filled: each slot is written (by the kernel or by a reply) before it is
    // read, and untouched pages do not count in RSS (3 × 256 KiB per listener).
    this.input = Buffer.allocUnsafeSlow(BATCH * SLOT);
    this.meta = Buffer.alloc(BATCH * META);
    this.output = Buffer.allocUnsafeSlow(BATCH * SLOT);
    this.outMeta = Buffer.alloc(BATCH * 8);
    this.metaWords = new Int32Array(this.meta.buffer, this.meta.byteOffset, this.meta.length / 4);
    this.metaShorts = new Uint16Array(this.meta.buffer, this.meta.byteOffset, this.meta.length / 2);
    this.outWords = new Int32Array(this.outMeta.buffer, this.outMeta.byteOffset, this.outMeta.length / 4);
    this.latePeers = Buffer.alloc(BATCH * META);
    this.lateOut = Buffer.allocUnsafeSlow(BATCH * SLOT);
    this.lateLengths = Buffer.alloc(BATCH * 4);
    this.lateWords = new Int32Array(this.lateLengths.buffer, this.lateLengths.byteOffset, BATCH);
    this.messages = new ScratchBuffer(SLOT);
  }

  async start(sink: DatagramSink): Promise<number> {
    const { address, label, socketBufferBytes } = this.options;
    this.sink = sink;
    try {
      this.handle = this.binding.open(address.family === 6 ? 6 : 4, address.host, address.port, socketBufferBytes, this.input, this.meta, this.output, this.outMeta, this.onBatch);
    } catch (err) {
      throw new PldnsError('LISTEN_FAILED', `cannot bind ${label}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
    }
    return this.binding.localPort(this.handle);
  }

  private readonly onBatch = (count: number): void => {
    const { counters, logger, label } = this.options;
    if (count < 0) {
      logger.error({ err: `errno ${-count}`, listener: label }, 'udp socket error');
      return;
    }
    const { SLOT, META, META_LENGTH_OFFSET } = this.binding;
    const sink = this.sink;
    counters.udpBatch(count);
    // Every datagram of the batch arrived by now: one clock read for all (UdpServer's stampsArrival).
    queryClock.refresh();
    this.outCount = 0;
    for (let i = 0; i < count && sink; i++) {
      const len = this.metaWords[(i * META + META_LENGTH_OFFSET) >> 2];
      if (len < 0) {
        // Longer than a slot (so longer than any query we accept): classified as parseQuery
        // would, whose first test after the header is the QR bit.
        counters.dropped((this.input[i * SLOT + 2] & 0x80) !== 0 ? 'response' : 'oversize');
        continue;
      }
      // Valid while the sink runs: a forwarded query takes a copy (detachQuery).
      const msg = this.messages.view(len);
      copyBytes(this.input, i * SLOT, i * SLOT + len, msg, 0);
      this.current = i;
      try {
        sink(msg, this.clientOf(i));
      } catch (err) {
        // The sink guards its own handler; this keeps one bad datagram from costing the batch.
        counters.dropped('handler_error');
        logger.error({ err: err instanceof Error ? err.message : String(err), listener: label }, 'udp datagram handling failed');
      }
    }
    this.current = -1;
    const n = this.outCount;
    this.outCount = 0;
    if (n > 0 && this.handle) {
      const failed = this.binding.flush(this.handle, n);
      for (let f = 0; f < failed; f++) counters.dropped('send_error');
    }
  };

  private clientOf(i: number): ClientAddress {
    const base = i * this.binding.META;
    const m = this.meta;
    const port = (m[base + 2] << 8) | m[base + 3];
    if (this.metaShorts[base >> 1] === this.binding.AF_INET) {
      const key = this.metaWords[(base + 4) >> 2];
      if (key !== this.lastV4Key) {
        this.lastV4Key = key;
        this.lastV4 = `${m[base + 4]}.${m[base + 5]}.${m[base + 6]}.${m[base + 7]}`;
      }
      return this.clientIs(this.lastV4, port);
    }
    if (this.lastV6 === '' || !this.sameV6(base + 8)) {
      copyBytes(m, base + 8, base + 24, this.lastV6Bytes, 0);
      const addr = ipaddr.fromByteArray([...this.lastV6Bytes]) as ipaddr.IPv6;
      this.lastV6 = addr.isIPv4MappedAddress() ? `::ffff:${addr.toIPv4Address().toString()}` : addr.toString();
    }
    return this.clientIs(this.lastV6, port);
  }

  /** The one ClientAddress, now naming this sender (read during the sink call only). */
  private clientIs(address: string, port: number): ClientAddress {
    this.client.address = address;
    this.client.port = port;
    return this.client;
  }

  private sameV6(at: number): boolean {
    const m = this.meta;
    const last = this.lastV6Bytes;
    for (let i = 0; i < 16; i++) if (m[at + i] !== last[i]) return false;
    return true;
  }

  replyNow(bytes: Buffer): void {
    const { SLOT, BATCH } = this.binding;
    if (this.current < 0) return;
    if (bytes.length > SLOT || this.outCount >= BATCH) {
      this.replyLater(this.keepPeer(), bytes);
      return;
    }
    const k = this.outCount++;
    copyBytes(bytes, 0, bytes.length, this.output, k * SLOT);
    this.outWords[2 * k] = bytes.length;
    this.outWords[2 * k + 1] = this.current;
  }

  keepPeer(): unknown {
    if (this.current < 0) return undefined;
    // The whole peer record: the sender, and on wildcard sockets the address it wrote to.
    const { META } = this.binding;
    return Buffer.from(this.meta.subarray(this.current * META, (this.current + 1) * META));
  }

  replyLater(peer: unknown, bytes: Buffer): void {
    if (!this.handle || !(peer instanceof Buffer)) return;
    const { SLOT, META, BATCH } = this.binding;
    if (bytes.length > SLOT) {
      if (this.binding.sendTo(this.handle, peer, bytes) !== undefined) this.options.counters.dropped('send_error');
      return;
    }
    if (this.lateCount === BATCH) this.flushLate();
    const k = this.lateCount++;
    peer.copy(this.latePeers, k * META, 0, META);
    bytes.copy(this.lateOut, k * SLOT);
    this.lateWords[k] = bytes.length;
    if (!this.lateScheduled) {
      this.lateScheduled = true;
      // After the promise continuations of this turn: every reply they produce leaves together.
      process.nextTick(this.flushLate);
    }
  }

  private readonly flushLate = (): void => {
    this.lateScheduled = false;
    const n = this.lateCount;
    this.lateCount = 0;
    if (n === 0 || !this.handle) return;
    const failed = this.binding.sendMany(this.handle, this.latePeers, this.lateOut, this.lateLengths, n);
    for (let f = 0; f < failed; f++) this.options.counters.dropped('send_error');
  };

  async close(): Promise<void> {
    this.flushLate();
    const handle = this.handle;
    this.handle = undefined;
    this.sink = undefined;
    if (!handle) return;
    this.binding.close(handle);
  }
}
