import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { requireTool } from './tools';

export interface NotifyMessage {
  /** The sender's pid from SCM_CREDENTIALS, as systemd checks it for NotifyAccess=main. */
  readonly pid: number;
  readonly text: string;
}

export interface NotifySocket {
  readonly path: string;
  readonly messages: NotifyMessage[];
  waitFor(predicate: (m: NotifyMessage) => boolean, timeoutMs?: number): Promise<NotifyMessage>;
  close(): void;
}

/**
 * A stand-in for systemd's notification socket: a unix datagram socket with SO_PASSCRED, bound
 * by python3 (Node cannot receive unix datagrams), printing one JSON line per message.
 */
const RECEIVER = `
import json, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(sys.argv[1])
print(json.dumps({"listening": True}), flush=True)
while True:
    data, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
    pid = -1
    for level, kind, body in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack("iII", body[:12])[0]
    print(json.dumps({"pid": pid, "text": data.decode()}), flush=True)
`;

export async function startNotifySocket(dir: string): Promise<NotifySocket> {
  requireTool('python3');
  const path = join(dir, 'notify.sock');
  const proc: ChildProcess = spawn('python3', ['-c', RECEIVER, path], { stdio: ['ignore', 'pipe', 'pipe'] });
  const messages: NotifyMessage[] = [];
  let partial = '';
  let stderr = '';
  const waiters = new Set<() => void>();
  let listening!: () => void;
  const ready = new Promise<void>((r) => (listening = r));
  proc.stderr?.on('data', (d) => (stderr += String(d)));
  proc.stdout?.setEncoding('utf8');
  proc.stdout?.on('data', (chunk: string) => {
    partial += chunk;
    for (let nl = partial.indexOf('\n'); nl >= 0; nl = partial.indexOf('\n')) {
      const line = JSON.parse(partial.slice(0, nl)) as { listening?: boolean; pid: number; text: string };
      partial = partial.slice(nl + 1);
      if (line.listening) listening();
      else messages.push({ pid: line.pid, text: line.text });
    }
    for (const w of waiters) w();
  });
  await Promise.race([
    ready,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`notify receiver did not start: ${stderr}`)), 10_000)),
  ]);
  return {
    path,
    messages,
    waitFor: (predicate, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const found = messages.find(predicate);
          if (!found) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching sd_notify message; got ${JSON.stringify(messages)}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      }),
    close: () => proc.kill('SIGKILL'),
  };
}
