import { BrookError } from '@brook/protocol';

/** Bytes on disk that do not make sense: a torn batch, a bad CRC, an index out of order. */
export class StorageCorruptionError extends BrookError {
  static override readonly code: string = 'BROOK_ERR_STORAGE_CORRUPT';
}

/** The log was closed (or its directory deleted) while an operation was under way. */
export class LogClosedError extends BrookError {
  static override readonly code: string = 'BROOK_ERR_LOG_CLOSED';
}

/**
 * An append or read the log refuses for a reason Kafka reports with an error code (a corrupt
 * batch, a batch too large, an offset out of range). `errorCode` is that Kafka code, so the
 * broker can put it in the response as is.
 */
export class LogError extends BrookError {
  static override readonly code: string = 'BROOK_ERR_LOG';
  readonly errorCode: number;

  constructor(errorCode: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.errorCode = errorCode;
  }
}

/** An I/O failure (a failed write or fsync) that leaves the log unable to continue safely. */
export class LogIoError extends BrookError {
  static override readonly code: string = 'BROOK_ERR_LOG_IO';
}
