import type { Config } from '../config/schema';
import type { Logger } from '../runtime/log';
import type { ListenerSetOptions } from './listener-set';
import type { QueryPipeline } from './pipeline';

/** How long a TCP query frame may take to arrive once its first byte has (capped by the idle timeout). */
const TCP_FRAME_TIMEOUT_MS = 3000;

/** The DNS listeners' settings for a config: the socket receive buffer, and TCP's limits. */
export function listenerOptions(config: Config, pipeline: QueryPipeline, logger: Logger): ListenerSetOptions {
  const l = config.limits;
  return {
    pipeline,
    logger,
    udpIo: config.listen.udpIo,
    recvBufferBytes: 4 * 1024 * 1024,
    tcpLimits: {
      maxConnections: l.tcpMaxConnections,
      maxConnectionsPerClient: l.tcpMaxConnectionsPerClient,
      idleTimeoutMs: l.tcpIdleTimeoutMs,
      // RFC 7766 §10: a query arrives in one segment; a frame still open after this is stalling.
      frameTimeoutMs: Math.min(l.tcpIdleTimeoutMs, TCP_FRAME_TIMEOUT_MS),
      maxInFlight: l.tcpMaxInFlight,
      maxWriteBufferBytes: l.tcpMaxWriteBufferBytes,
      framesPerTick: 32,
    },
  };
}
