/**
 * Typed errors with stable codes. Callers match on `error.code`, never on the message.
 * The catalogue below is the single list of codes; docs/errors.md documents each one and
 * test/docs/errors.test.ts keeps the two in step.
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
  PL_FORBIDDEN: 'the RAM identity lacks the permission for a PrivateLink action',
  PL_NOT_FOUND: 'the PrivateLink API does not know the endpoint or service',
  PL_SERVER: 'the PrivateLink API failed with a server error',
  PL_NETWORK: 'the PrivateLink API could not be reached',
  PL_BAD_RESPONSE: 'the PrivateLink API answered with something unusable',
  PL_CREDENTIALS: 'no Alibaba Cloud credentials could be obtained',
  SYNC_BUSY: 'a sync was requested while one was running',
  SNAPSHOT_INVALID: 'the state snapshot is corrupt or of an unknown version',
  SNAPSHOT_READ: 'the state snapshot exists but could not be read (permissions, I/O)',
  SNAPSHOT_WRITE: 'the state snapshot could not be written',
  EXPORT_EMPTY: 'there is no table to export',
  EXPORT_WRITE: 'an export file (export --out DIR) could not be written',
  ZONE_STATE_INVALID: 'a policy zone or zone serial file in state_dir is corrupt or of an unknown version',
  ZONE_STATE_WRITE: 'a policy zone or zone serial file could not be written to state_dir',
  ZONE_DATA_INVALID: 'a received zone (AXFR) or change set (IXFR) is not a usable policy zone',
  ZONE_REFUSED: 'an edge refused a received zone (primaries.managed, max_records, max_drop, or an address an endpoint never has) and kept its current one',
  XFR_REFUSED: 'a primary refused the SOA query, zone transfer or NOTIFY',
  XFR_BAD_TSIG: 'a TSIG-signed exchange with a primary or secondary failed verification',
  XFR_FAILED: 'a zone transfer, SOA query or NOTIFY failed',
  XFR_TIMEOUT: 'a zone transfer, SOA query or NOTIFY did not finish in time',
  WIRE_MALFORMED: 'a DNS message or record could not be decoded or encoded',
  SD_NOTIFY: 'systemd asked for readiness notification (NOTIFY_SOCKET) but it cannot be sent',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** What a failed PrivateLink API call carries (all optional: which fields depends on how it failed). */
export type PrivateLinkCallDetails = {
  readonly action?: string;
  /** host:port the call went to. */
  readonly target?: string;
  /** The API's own error code, e.g. "Throttling.User". */
  readonly apiCode?: string;
  readonly statusCode?: number;
  readonly requestId?: string;
  /** A Node system error code (ECONNREFUSED...). */
  readonly errno?: string;
  readonly timeout?: boolean;
};

/** What a failed exchange with a primary or secondary carries (`server`, `zone` always). */
export type TransferDetails = {
  readonly server: string;
  readonly zone: string;
  /** The rcode the peer answered with. */
  readonly rcode?: number;
  /** Why the TSIG check of the answer failed. */
  readonly tsig?: string;
  /** The TSIG error the peer set (RFC 8945 §5.3). */
  readonly tsigError?: number;
  /** ZONE_REFUSED: which check refused it (records, address, wildcard, empty, drop). */
  readonly refusal?: string;
};

/**
 * The `details` each code may carry; `never` for codes that carry none. PldnsError indexes it by
 * its code, so a code missing here does not compile.
 */
export type ErrorDetailsByCode = {
  CONFIG_INVALID: { readonly problems: readonly { readonly path: string; readonly problem: string }[] };
  CONFIG_READ: never;
  USAGE: never;
  LISTEN_FAILED: never;
  /** Replies that arrived but failed the RFC 5452 checks before the deadline. */
  UPSTREAM_TIMEOUT: { readonly mismatches: number };
  UPSTREAM_FAILED: never;
  UPSTREAM_BAD_REPLY: never;
  /** `retryAfterMs`: the API's x-acs-retry-after; backoff waits at least this long. */
  PL_THROTTLED: PrivateLinkCallDetails & { readonly retryAfterMs?: number };
  PL_AUTH: PrivateLinkCallDetails;
  /** `ramAction`: the RAM action that grants the denied call, e.g. "privatelink:ListVpcEndpoints". */
  PL_FORBIDDEN: PrivateLinkCallDetails & { readonly ramAction?: string };
  PL_NOT_FOUND: PrivateLinkCallDetails;
  PL_SERVER: PrivateLinkCallDetails;
  PL_NETWORK: PrivateLinkCallDetails;
  PL_BAD_RESPONSE: PrivateLinkCallDetails;
  /** `type`: the configured credential type that failed. */
  PL_CREDENTIALS: PrivateLinkCallDetails & { readonly type?: string };
  SYNC_BUSY: never;
  SNAPSHOT_INVALID: never;
  SNAPSHOT_READ: never;
  SNAPSHOT_WRITE: never;
  EXPORT_EMPTY: never;
  ZONE_STATE_INVALID: never;
  ZONE_STATE_WRITE: never;
  /** Transfer details when the zone or change set came from a primary. */
  ZONE_DATA_INVALID: TransferDetails;
  ZONE_REFUSED: TransferDetails;
  XFR_REFUSED: TransferDetails;
  XFR_BAD_TSIG: TransferDetails;
  XFR_FAILED: TransferDetails;
  XFR_TIMEOUT: TransferDetails;
  /** Transfer details when the message came from a primary. */
  WIRE_MALFORMED: TransferDetails;
  SD_NOTIFY: never;
  EXPORT_WRITE: never;
};

/** A PldnsError whose code is known, with that code's details type (what isPldnsError(err, code) narrows to). */
export type PldnsErrorOf<C extends ErrorCode> = PldnsError<C> & { readonly details: ErrorDetailsByCode[C] | undefined };

export class PldnsError<C extends ErrorCode = ErrorCode> extends Error {
  readonly code: C;
  /** Typed per code at construction; read it typed after isPldnsError(err, code). */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: C, message: string, options?: { cause?: unknown; details?: ErrorDetailsByCode[C] }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PldnsError';
    this.code = code;
    this.details = options?.details;
  }
}

export function isPldnsError(err: unknown): err is PldnsError;
export function isPldnsError<C extends ErrorCode>(err: unknown, code: C): err is PldnsErrorOf<C>;
export function isPldnsError(err: unknown, code?: ErrorCode): boolean {
  return err instanceof PldnsError && (code === undefined || err.code === code);
}

/** One line for humans: `CODE: message`. */
export function describeError(err: unknown): string {
  if (err instanceof PldnsError) return `${err.code}: ${err.message}`;
  if (err instanceof Error) return err.message;
  return String(err);
}
