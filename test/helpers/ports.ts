import dgram from 'node:dgram';
import net from 'node:net';

/** A loopback port free for both UDP and TCP at the moment of asking. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const server = net.createServer();
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, host, () => resolve((server.address() as net.AddressInfo).port));
    });
    const udp = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    const ok = await new Promise<boolean>((resolve) => {
      udp.once('error', () => resolve(false));
      udp.bind(port, host, () => resolve(true));
    });
    await new Promise<void>((r) => server.close(() => r()));
    if (ok) await new Promise<void>((r) => udp.close(() => r()));
    if (ok) return port;
  }
  throw new Error('no free port found');
}
