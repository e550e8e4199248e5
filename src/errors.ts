/**
 * Typed errors with stable codes. Callers match on `error.code`, never on the message.
 * The catalogue below is the single list of codes; docs/errors.md documents each one and
 * test/errors.test.ts keeps the two in step.
 */
export const ERROR_CODES = {
  CONFIG_INVALID: 'the configuration file failed validation',
  CONFIG_READ: 'the configuration file could not be read or parsed',
  USAGE: 'bad command-line usage',
  LISTEN_FAILED: 'a DNS or HTTP listener could not be bound',
  UPSTREAM_TIMEOUT: 'an upstream did not answer in time',
  UPSTREAM_FAILED: 'every upstream failed for a query',
  UPSTREAM_BAD_REPLY: 'an upstream reply was malformed or did not match the query',
  PL_THROTTLED: 'the PrivateLink API throttled the request',
  PL_AUTH: 'the PrivateLink API rejected the credentials or signature',
  PL_NOT_FOUND: 'the PrivateLink API does not know the endpoint or service',
  PL_SERVER: 'the PrivateLink API failed with a server error',
  PL_NETWORK: 'the PrivateLink API could not be reached',
  PL_BAD_RESPONSE: 'the PrivateLink API answered with something unusable',
  PL_CREDENTIALS: 'no Alibaba Cloud credentials could be obtained',
  SYNC_BUSY: 'a sync was requested while one was running',
  SNAPSHOT_INVALID: 'the state snapshot is corrupt or of an unknown version',
  SNAPSHOT_WRITE: 'the state snapshot could not be written',
  EXPORT_EMPTY: 'there is no table to export',
  ZONE_STATE_INVALID: 'a policy zone or zone serial file in state_dir is corrupt or of an unknown version',
  ZONE_STATE_WRITE: 'a policy zone or zone serial file could not be written to state_dir',
  ZONE_DATA_INVALID: 'a received zone (AXFR) or change set (IXFR) is not a usable policy zone',
  XFR_REFUSED: 'a primary refused the SOA query, zone transfer or NOTIFY',
  XFR_BAD_TSIG: 'a TSIG-signed exchange with a primary or secondary failed verification',
  XFR_FAILED: 'a zone transfer, SOA query or NOTIFY failed',
  XFR_TIMEOUT: 'a zone transfer, SOA query or NOTIFY did not finish in time',
  WIRE_MALFORMED: 'a DNS message or record could not be decoded or encoded',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class PldnsError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PldnsError';
    this.code = code;
    this.details = options?.details;
  }
}

export function isPldnsError(err: unknown, code?: ErrorCode): err is PldnsError {
  return err instanceof PldnsError && (code === undefined || err.code === code);
}

/** One line for humans: `CODE: message`. */
export function describeError(err: unknown): string {
  if (err instanceof PldnsError) return `${err.code}: ${err.message}`;
  if (err instanceof Error) return err.message;
  return String(err);
}
