/**
 * Retries with exponential backoff and "equal jitter", for retriable failures only (Kafka's
 * `retry.backoff.ms` / `retry.backoff.max.ms`, KIP-580): the wait before attempt n is random in
 * [b/2, b] with b = min(maxBackoffMs, initialBackoffMs * 2^(n-1)), so it never drops below half
 * the current step (full jitter would draw from [0, b]).
 */
import { AbortedError, isRetriableError, RetriesExhaustedError } from './errors.ts';

export interface RetryOptions {
  /** Attempts after the first. Default 5. */
  readonly retries?: number;
  /** First backoff. Default 100 ms. */
  readonly initialBackoffMs?: number;
  /** Largest backoff. Default 1000 ms. */
  readonly maxBackoffMs?: number;
  /** Give up when this much time has passed since the first attempt. */
  readonly deadlineMs?: number;
}

/** The wait before attempt `attempt` (1-based): random in [b/2, b] with b doubling. */
export function backoffMs(attempt: number, options: RetryOptions = {}): number {
  const initial = options.initialBackoffMs ?? 100;
  const max = options.maxBackoffMs ?? 1000;
  const ceiling = Math.min(max, initial * 2 ** (attempt - 1));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new AbortedError('aborted', { cause: signal.reason }));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(new AbortedError('aborted', { cause: signal?.reason }));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Runs `operation` until it succeeds, fails with a non-retriable error, or retries run out.
 * `onRetry` runs before each new attempt (a metadata refresh, a reconnect).
 */
export async function withRetries<T>(
  operation: (attempt: number) => Promise<T>,
  options: RetryOptions & {
    signal?: AbortSignal;
    onRetry?: (error: unknown, attempt: number) => Promise<void> | void;
  } = {},
): Promise<T> {
  const retries = options.retries ?? 5;
  const started = Date.now();
  for (let attempt = 0; ; attempt++) {
    try {
      return await operation(attempt);
    } catch (error) {
      const expired =
        options.deadlineMs !== undefined && Date.now() - started >= options.deadlineMs;
      if (!isRetriableError(error) || options.signal?.aborted) throw error;
      if (attempt >= retries || expired) {
        throw new RetriesExhaustedError(
          `gave up after ${attempt + 1} attempts: ${(error as Error).message}`,
          { cause: error },
        );
      }
      await sleep(backoffMs(attempt + 1, options), options.signal);
      await options.onRetry?.(error, attempt + 1);
    }
  }
}
