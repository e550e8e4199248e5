import { Socket } from 'node:net';

/** One probe's result: `reason` says why it failed (a short stable word, used as a metric label). */
export type ProbeResult = { readonly ok: true } | { readonly ok: false; readonly reason: ProbeFailure };
export type ProbeFailure = 'timeout' | 'refused' | 'unreachable' | 'error';

/** An in-flight probe: `cancel` ends it as a timeout (the caller keeps the deadlines, so no timer per probe). */
export interface RunningProbe {
  readonly done: Promise<ProbeResult>;
  cancel(): void;
}

export type ProbeStarter = (ip: string, port: number) => RunningProbe;

const UNREACHABLE = new Set(['EHOSTUNREACH', 'ENETUNREACH', 'EINVAL', 'EACCES', 'EPERM', 'EADDRNOTAVAIL']);

/** A TCP connect, closed at once: the three-way handshake is all we want to know about. */
export const tcpConnectProbe: ProbeStarter = (ip, port) => {
  const socket = new Socket();
  let settle: (r: ProbeResult) => void = () => {};
  const done = new Promise<ProbeResult>((resolve) => {
    settle = (r) => {
      settle = () => {};
      socket.destroy();
      resolve(r);
    };
  });
  socket.once('connect', () => settle({ ok: true }));
  socket.once('error', (err: NodeJS.ErrnoException) => {
    const code = err.code ?? '';
    settle({ ok: false, reason: code === 'ECONNREFUSED' ? 'refused' : UNREACHABLE.has(code) ? 'unreachable' : code === 'ETIMEDOUT' ? 'timeout' : 'error' });
  });
  socket.connect({ host: ip, port, noDelay: true });
  return { done, cancel: () => settle({ ok: false, reason: 'timeout' }) };
};
