import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** An open socket inside the addon (an N-API external; opaque here). */
export type BatchHandle = { readonly __brand: 'udp_batch' };
/** The set of upstream exchange sockets inside the addon (opaque). */
export type UpstreamHandle = { readonly __brand: 'upstream_udp' };

/** The built addon's file name (dist/native/, next to this file's compiled copy). */
export const ADDON_FILE = 'pldns_native.node';

/**
 * The native addon: the daemon's system calls that Node does not offer (src/native/*.c; addon.h
 * says which file holds which job; see those files for the shared-memory layouts).
 */
export interface NativeAddon {
  // Listeners (udp_batch.c): recvmmsg/sendmmsg batches.
  readonly BATCH: number;
  readonly SLOT: number;
  readonly META: number;
  /** Where a peer record holds the datagram's length (host-endian int32). */
  readonly META_LENGTH_OFFSET: number;
  readonly AF_INET: number;
  readonly AF_INET6: number;
  open(family: 4 | 6, host: string, port: number, socketBufferBytes: number, input: Buffer, meta: Buffer, output: Buffer, outMeta: Buffer, onBatch: (count: number) => void): BatchHandle;
  localPort(handle: BatchHandle): number;
  /** Sends the first `count` replies described in outMeta; returns how many could not be sent. */
  flush(handle: BatchHandle, count: number): number;
  /** Sends one datagram to a copied peer record (META bytes); returns undefined or the errno name. */
  sendTo(handle: BatchHandle, peerRecord: Buffer, bytes: Buffer): string | undefined;
  /** Sends up to BATCH late replies at once: lengths[i] bytes at data + i*SLOT to the peer record at peers + i*META; returns how many failed. */
  sendMany(handle: BatchHandle, peerRecords: Buffer, data: Buffer, lengths: Buffer, count: number): number;
  close(handle: BatchHandle): void;
  /** Writes the wall clock (ms, double at 0) and the monotonic clock (µs mod 2^30, int32 at 8) into a 16-byte buffer. */
  clock(stamps: Buffer): void;
  // Upstream exchanges (upstream_udp.c): one connected socket per exchange, all in one epoll set.
  readonly UP_BATCH: number;
  readonly UP_SLOT: number;
  /** `meta` holds UP_BATCH pairs of int32: the exchange's token, the reply length or -errno. */
  upOpen(input: Buffer, meta: Buffer, onReplies: (count: number) => void): UpstreamHandle;
  /** Opens a socket on a random port, connects it to host:port and sends; the token, or the errno name. */
  upSend(handle: UpstreamHandle, family: 4 | 6, host: string, port: number, query: Buffer): number | string;
  /** Closes the exchange's socket, if it is one the set opened and has not closed. */
  upRelease(handle: UpstreamHandle, token: number): void;
  /** Closes the exchange sockets still open, then the set. */
  upClose(handle: UpstreamHandle): void;
  upOpenSockets(handle: UpstreamHandle): number;
  /** malloc_trim.c: freed heap memory back to the kernel (glibc malloc_trim(0)); true when some was released. */
  trimMemory(): boolean;
  /** sd_notify.c: one sd_notify datagram to a unix socket path ('@' = abstract); returns undefined or the errno name. */
  notify(socketPath: string, message: string): string | undefined;
}

export type NativeAddonLoad = { readonly ok: true; readonly binding: NativeAddon } | { readonly ok: false; readonly reason: string };

let loaded: NativeAddonLoad | undefined;

/** Loads dist/native/pldns_native.node once; the reason says why it is unavailable. */
export function loadNativeAddon(): NativeAddonLoad {
  if (loaded) return loaded;
  if (process.platform !== 'linux') {
    loaded = { ok: false, reason: `the native addon is Linux-only (platform ${process.platform})` };
    return loaded;
  }
  // Next to this file in dist/native/; from src/native/ (tests run the TypeScript) the built copy.
  const file = [join(__dirname, ADDON_FILE), join(__dirname, '..', '..', 'dist', 'native', ADDON_FILE)].find((f) => existsSync(f));
  if (!file) {
    loaded = { ok: false, reason: `addon not found (${join(__dirname, ADDON_FILE)}); \`npm run build\` builds it when a C compiler is present` };
    return loaded;
  }
  try {
    loaded = { ok: true, binding: require(file) as NativeAddon };
  } catch (err) {
    const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
    loaded = { ok: false, reason: `addon ${file} not loadable (${message})` };
  }
  return loaded;
}
