/**
 * Brook's own errors: one class hierarchy with stable string codes and a `cause`.
 * Kafka errors are values (numeric codes in responses) and live in `error-codes.ts`; these
 * classes are for failures of Brook's own code paths (a malformed frame, a bad argument).
 *
 * The code is a static property of each class, read through `new.target`, so a subclass can
 * never report its parent's code by accident.
 */
export class BrookError extends Error {
  static readonly code: string = 'BROOK_ERR';
  readonly code: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = (new.target as typeof BrookError).code;
  }
}

/** Bytes from the wire that cannot be decoded: truncated, a bad length, a bad varint, a bad CRC. */
export class ProtocolDecodeError extends BrookError {
  static override readonly code: string = 'BROOK_ERR_PROTOCOL_DECODE';
}

/** A value that cannot be encoded at the requested version (Kafka's UnsupportedVersionException). */
export class UnsupportedVersionError extends BrookError {
  static override readonly code: string = 'BROOK_ERR_UNSUPPORTED_VERSION';
}

/** A value that cannot be encoded at all (a null where the version has no null, a too-long string). */
export class ProtocolEncodeError extends BrookError {
  static override readonly code: string = 'BROOK_ERR_PROTOCOL_ENCODE';
}
