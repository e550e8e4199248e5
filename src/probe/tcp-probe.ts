import { Socket, isIPv6 } from 'node:net';
import { getSystemErrorName } from 'node:util';

/** One probe's result: `reason` says why it failed (a short stable word, used as a metric label). */
export type ProbeResult = { readonly ok: true } | { readonly ok: false; readonly reason: ProbeFailure };
export type ProbeFailure = 'timeout' | 'refused' | 'unreachable' | 'error';

/** An in-flight probe: `cancel` ends it as a timeout (the caller keeps the deadlines, so no timer per probe). */
export interface RunningProbe {
  readonly done: Promise<ProbeResult>;
  cancel(): void;
}

export type ProbeStarter = (ip: string, port: number) => RunningProbe;

const UNREACHABLE = new Set(['EHOSTUNREACH', 'ENETUNREACH', 'EINVAL', 'EACCES', 'EPERM', 'EADDRNOTAVAIL', 'ENETDOWN']);

function failure(code: string): ProbeResult {
  return { ok: false, reason: code === 'ECONNREFUSED' ? 'refused' : UNREACHABLE.has(code) ? 'unreachable' : code === 'ETIMEDOUT' ? 'timeout' : 'error' };
}

function settleOnce(): { done: Promise<ProbeResult>; settle: (r: ProbeResult, close: () => void) => void } {
  let resolveDone: (r: ProbeResult) => void = () => {};
  let settled = false;
  const done = new Promise<ProbeResult>((resolve) => (resolveDone = resolve));
  return {
    done,
    settle: (r, close) => {
      if (settled) return;
      settled = true;
      close();
      resolveDone(r);
    },
  };
}

/** A TCP connect with net.Socket, closed at once: the handshake is all we want to know about. */
export const socketConnectProbe: ProbeStarter = (ip, port) => {
  const socket = new Socket();
  const { done, settle } = settleOnce();
  const close = (): void => void socket.destroy();
  socket.once('connect', () => settle({ ok: true }, close));
  socket.once('error', (err: NodeJS.ErrnoException) => settle(failure(err.code ?? ''), close));
  socket.connect({ host: ip, port });
  return { done, cancel: () => settle({ ok: false, reason: 'timeout' }, close) };
};

// Node's own TCP handle, under net.Socket. A probe needs no stream, so going straight to the
// handle costs a fifth of the user CPU of a Socket (about 10 µs against 75 µs per probe,
// measured): what keeps 1,000 probed IPs under 1% of a core.
interface ConnectRequest { oncomplete: (status: number) => void }
interface TcpHandle {
  connect(req: ConnectRequest, ip: string, port: number): number;
  connect6(req: ConnectRequest, ip: string, port: number): number;
  close(): void;
}
interface TcpWrap {
  TCP: new (type: number) => TcpHandle;
  TCPConnectWrap: new () => ConnectRequest;
  constants: { SOCKET: number };
}

function loadTcpWrap(): TcpWrap | undefined {
  try {
    const binding = (process as unknown as { binding(name: string): unknown }).binding('tcp_wrap') as Partial<TcpWrap>;
    const ok = typeof binding.TCP === 'function' && typeof binding.TCPConnectWrap === 'function' && typeof binding.constants?.SOCKET === 'number';
    return ok ? (binding as TcpWrap) : undefined;
  } catch {
    return undefined;
  }
}

function handleProbe(wrap: TcpWrap): ProbeStarter {
  return (ip, port) => {
    const handle = new wrap.TCP(wrap.constants.SOCKET);
    const { done, settle } = settleOnce();
    const close = (): void => handle.close();
    const req = new wrap.TCPConnectWrap();
    req.oncomplete = (status) => settle(status === 0 ? { ok: true } : failure(getSystemErrorName(status)), close);
    const err = isIPv6(ip) ? handle.connect6(req, ip, port) : handle.connect(req, ip, port);
    if (err !== 0) settle(failure(getSystemErrorName(err)), close);
    return { done, cancel: () => settle({ ok: false, reason: 'timeout' }, close) };
  };
}

/** The TCP handle when this Node exposes it (it does from 12 to 22), else net.Socket. */
export function tcpConnectProbe(): ProbeStarter {
  const wrap = loadTcpWrap();
  return wrap ? handleProbe(wrap) : socketConnectProbe;
}
