/**
 * The client's errors. Kafka error codes from responses become `KafkaProtocolError` (from the
 * protocol package: code, name, retriable). Failures of the client itself are `ClientError`s
 * with stable codes and a `cause`.
 */
import { BrookError } from '@brook/protocol';

export { BrookError, KafkaProtocolError } from '@brook/protocol';

export class ClientError extends BrookError {
  static override readonly code: string = 'BROOK_ERR_CLIENT';
}

/** The connection closed (or failed) before the response arrived. Retriable. */
export class ConnectionError extends ClientError {
  static override readonly code: string = 'BROOK_ERR_CONNECTION';
}

/** No response within the request timeout. The connection is closed; retriable. */
export class RequestTimeoutError extends ClientError {
  static override readonly code: string = 'BROOK_ERR_REQUEST_TIMEOUT';
}

/** The broker does not support any version of an API the client needs. */
export class UnsupportedApiError extends ClientError {
  static override readonly code: string = 'BROOK_ERR_UNSUPPORTED_API';
}

/** The operation was aborted through its AbortSignal, or the client was closed. */
export class AbortedError extends ClientError {
  static override readonly code: string = 'BROOK_ERR_ABORTED';
}

/** Retries ran out (or the delivery timeout passed); `cause` is the last failure. */
export class RetriesExhaustedError extends ClientError {
  static override readonly code: string = 'BROOK_ERR_RETRIES_EXHAUSTED';
}

/** Whether a failure is worth retrying: a retriable Kafka error, a lost connection, a timeout. */
export function isRetriableError(error: unknown): boolean {
  if (error instanceof ConnectionError || error instanceof RequestTimeoutError) return true;
  return (
    typeof error === 'object' &&
    error !== null &&
    'retriable' in error &&
    (error as { retriable: unknown }).retriable === true
  );
}
