import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { FLEET_SECRET, hubYaml } from './fleet';
import { parseMessage, type DnsMessage } from '../../src/fleet/codec/message';
import { TcpFrameReader, frameMessage } from '../../src/wire/tcp-frames';
import { TsigStreamVerifier, type TsigKey } from '../../src/fleet/codec/tsig';
import { wireToSoa } from '../../src/fleet/codec/zone-record-wire';

/**
 * A hub that publishes a large zone with no simulator: `count` static entries
 * (n00001.bulk.example …), one IPv4 address each and a second one for every odd name, plus the
 * transfer section with the fleet key. Shared by the transfer hardening test.
 */

export const BULK_ZONE = 'privatelink.rpz';
export const FLEET_KEY: TsigKey = { name: 'fleet', algorithm: 'hmac-sha256', secret: Buffer.from(FLEET_SECRET, 'base64') };

export function bulkName(i: number): string {
  return `n${String(i).padStart(5, '0')}.bulk.example`;
}

export function bulkAddresses(i: number): string[] {
  const first = `10.${(i >> 8) & 255}.${i & 255}.1`;
  return i % 2 === 1 ? [first, `10.200.${(i >> 8) & 255}.${i & 255}`] : [first];
}

/** Records of the zone's AXFR: SOA, NS, every A record, SOA again. */
export function bulkAxfrRecords(count: number): number {
  return 2 + 1 + count + Math.ceil(count / 2);
}

export interface BulkHubOptions {
  readonly count: number;
  readonly upstreamPort: number;
  /** Extra lines under `limits:` (two-space indented keys). */
  readonly limits?: readonly string[];
  readonly stateDir?: string;
}

export function bulkHubYaml(o: BulkHubOptions): string {
  const entries: string[] = [];
  for (let i = 1; i <= o.count; i++) entries.push(`    - { names: ["${bulkName(i)}"], addresses: ${JSON.stringify(bulkAddresses(i))} }`);
  return hubYaml({
    upstreamPort: o.upstreamPort,
    staticEntries: entries,
    zone: BULK_ZONE,
    ...(o.limits ? { limits: o.limits } : {}),
    stateDir: o.stateDir ?? mkdtempSync(join(tmpdir(), 'pldns-bulk-')),
  });
}

export interface CollectedTransfer {
  /** Rcode of the first message (the transfer is complete only with 0). */
  readonly rcode: number;
  readonly messages: number;
  readonly bytes: number;
  readonly records: number;
  readonly firstSerial: number | undefined;
  readonly lastSerial: number | undefined;
  /** Question types seen in the messages that carried one. */
  readonly questionTypes: readonly number[];
  /** Every message verified in the TSIG chain, and the last one signed (only with a key). */
  readonly tsigOk: boolean;
  readonly tsigProblem?: string;
  readonly complete: boolean;
  readonly ms: number;
}

const serialOf = (msg: DnsMessage, index: number): number | undefined => {
  const r = msg.answers[index];
  return r ? wireToSoa(r)?.soa.serial : undefined;
};

/**
 * Sends one (signed) transfer request over a fresh TCP connection from `localAddress` and reads
 * the answer to its end: the closing SOA of an AXFR(-style) answer, an error rcode, the connection
 * closing, or `timeoutMs`. Every message is parsed and, with `requestMac`, checked in the TSIG chain.
 */
export function collectTransfer(port: number, request: Buffer, opts: { localAddress?: string; key?: TsigKey; requestMac?: Buffer; timeoutMs?: number } = {}): Promise<CollectedTransfer> {
  const started = Date.now();
  const verifier = opts.key && opts.requestMac ? new TsigStreamVerifier(opts.key, opts.requestMac) : undefined;
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress: opts.localAddress ?? '127.0.0.1' });
    const reader = new TcpFrameReader();
    let rcode = -1;
    let messages = 0;
    let bytes = 0;
    let records = 0;
    let firstSerial: number | undefined;
    let lastSerial: number | undefined;
    const questionTypes: number[] = [];
    let tsigProblem: string | undefined;
    let complete = false;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      if (verifier && complete && tsigProblem === undefined) {
        const end = verifier.finish();
        if (!end.ok) tsigProblem = end.reason;
      }
      resolve({ rcode, messages, bytes, records, firstSerial, lastSerial, questionTypes, tsigOk: verifier !== undefined && tsigProblem === undefined && complete, ...(tsigProblem ? { tsigProblem } : {}), complete, ms: Date.now() - started });
    };
    const timer = setTimeout(finish, opts.timeoutMs ?? 60_000);
    socket.on('connect', () => socket.write(frameMessage(request)));
    socket.on('error', finish);
    socket.on('close', finish);
    socket.on('data', (chunk: Buffer) => {
      for (const raw of reader.push(chunk)) {
        messages++;
        bytes += raw.length + 2;
        let msg: DnsMessage;
        try {
          msg = parseMessage(raw);
        } catch (err) {
          tsigProblem = `unparseable message: ${(err as Error).message}`;
          finish();
          return;
        }
        if (messages === 1) rcode = msg.rcode;
        for (const q of msg.questions) questionTypes.push(q.type);
        if (verifier && tsigProblem === undefined) {
          const check = verifier.verify(raw, msg);
          if (!check.ok) tsigProblem = check.reason;
        }
        if (msg.rcode !== 0) {
          finish();
          return;
        }
        if (firstSerial === undefined) firstSerial = serialOf(msg, 0);
        const before = records;
        records += msg.answers.length;
        const lastIndex = msg.answers.length - 1;
        // The answer ends with an SOA that is not the opening one.
        if (lastIndex >= 0 && records >= 2 && !(before === 0 && lastIndex === 0)) {
          const s = serialOf(msg, lastIndex);
          if (s !== undefined) {
            lastSerial = s;
            complete = true;
            finish();
            return;
          }
        }
      }
    });
  });
}
