/**
 * Backoff and retries: `backoffMs` draws each wait from [b/2, b] ("equal jitter") with b doubling
 * from the initial backoff up to the maximum; `withRetries` retries retriable failures (lost
 * connections, timeouts, retriable Kafka errors) with those waits up to its limit, throws any
 * other failure after one attempt, and stops waiting when its signal aborts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AbortedError,
  backoffMs,
  ConnectionError,
  KafkaProtocolError,
  RequestTimeoutError,
  RetriesExhaustedError,
  withRetries,
} from '../src/index.ts';

const COORDINATOR_LOAD_IN_PROGRESS = 14;
const GROUP_AUTHORIZATION_FAILED = 30;

/** The step before attempt `n`: the initial backoff doubled n-1 times, at most the maximum. */
const step = (n: number, initial: number, max: number) => Math.min(max, initial * 2 ** (n - 1));

function samples(count: number, attempt: number, options?: Parameters<typeof backoffMs>[1]) {
  return Array.from({ length: count }, () => backoffMs(attempt, options));
}

describe('backoffMs', () => {
  it('draws the wait before attempt n from [b/2, b], b = min(max, initial * 2^(n-1))', () => {
    const options = { initialBackoffMs: 40, maxBackoffMs: 1000 };
    for (let n = 1; n <= 8; n++) {
      const b = step(n, 40, 1000);
      const drawn = samples(300, n, options);
      for (const wait of drawn) {
        assert.ok(wait >= b / 2 && wait <= b, `attempt ${n}: ${wait} not in [${b / 2}, ${b}]`);
      }
      // The draws spread over the range: neither stuck at one end nor squeezed into the middle.
      assert.ok(Math.min(...drawn) < b * 0.6, `attempt ${n}: lowest ${Math.min(...drawn)}`);
      assert.ok(Math.max(...drawn) > b * 0.9, `attempt ${n}: highest ${Math.max(...drawn)}`);
    }
  });

  it('takes the ends of the range from the random draw', (t) => {
    const options = { initialBackoffMs: 100, maxBackoffMs: 10_000 };
    const random = t.mock.method(Math, 'random', () => 0);
    assert.deepEqual(
      [1, 2, 3, 4].map((n) => backoffMs(n, options)),
      [50, 100, 200, 400],
    );
    random.mock.mockImplementation(() => 0.5);
    assert.deepEqual(
      [1, 2, 3, 4].map((n) => backoffMs(n, options)),
      [75, 150, 300, 600],
    );
  });

  it('doubles up to the maximum and stays there', () => {
    const options = { initialBackoffMs: 10, maxBackoffMs: 300 };
    // 10, 20, 40, 80, 160, then capped at 300 from attempt 6 on.
    for (const n of [6, 7, 10, 30, 200]) {
      for (const wait of samples(100, n, options)) {
        assert.ok(wait >= 150 && wait <= 300, `attempt ${n}: ${wait} not in [150, 300]`);
      }
    }
    // Attempt 5 is below the cap: its largest wait is 160.
    for (const wait of samples(100, 5, options)) assert.ok(wait <= 160, `attempt 5: ${wait}`);
  });

  it('defaults to 100 ms doubling up to 1 s', () => {
    for (const wait of samples(100, 1)) assert.ok(wait >= 50 && wait <= 100, `${wait}`);
    for (const wait of samples(100, 3)) assert.ok(wait >= 200 && wait <= 400, `${wait}`);
    for (const wait of samples(100, 12)) assert.ok(wait >= 500 && wait <= 1000, `${wait}`);
  });

  it('gives different waits for the same attempt', () => {
    const drawn = samples(50, 4, { initialBackoffMs: 100, maxBackoffMs: 1000 });
    assert.ok(new Set(drawn).size > 40, `only ${new Set(drawn).size} distinct waits of 50`);
  });
});

describe('withRetries', () => {
  const FAST = { initialBackoffMs: 8, maxBackoffMs: 32 };

  it('retries retriable failures with growing waits until the operation succeeds', async () => {
    const attempts: number[] = [];
    const startedAt: number[] = [];
    const retried: [string, number][] = [];
    const failures = [
      new ConnectionError('lost'),
      new RequestTimeoutError('slow'),
      new KafkaProtocolError(COORDINATOR_LOAD_IN_PROGRESS),
    ];
    const result = await withRetries(
      async (attempt) => {
        attempts.push(attempt);
        startedAt.push(performance.now());
        const failure = failures[attempt];
        if (failure) throw failure;
        return 'done';
      },
      {
        ...FAST,
        retries: 5,
        onRetry: (error, attempt) => {
          retried.push([(error as Error).message, attempt]);
        },
      },
    );
    assert.equal(result, 'done');
    assert.deepEqual(attempts, [0, 1, 2, 3]);
    assert.deepEqual(
      retried.map(([, attempt]) => attempt),
      [1, 2, 3],
    );
    assert.equal(retried[0]![0], 'lost');
    // Before attempt n it waited at least half of min(32, 8 * 2^(n-1)): 4, 8 and 16 ms.
    for (let n = 1; n <= 3; n++) {
      const waited = startedAt[n]! - startedAt[n - 1]!;
      assert.ok(waited >= step(n, 8, 32) / 2 - 1, `waited ${waited} ms before attempt ${n}`);
    }
  });

  it('gives up after `retries` retries with RetriesExhaustedError carrying the last failure', async () => {
    let calls = 0;
    const last = new ConnectionError('still down');
    const rejection = await withRetries(
      async () => {
        calls++;
        throw calls === 4 ? last : new ConnectionError(`down ${calls}`);
      },
      { ...FAST, retries: 3 },
    ).then(
      () => assert.fail('resolved'),
      (error: unknown) => error,
    );
    assert.ok(rejection instanceof RetriesExhaustedError, `${rejection}`);
    assert.equal(rejection.cause, last);
    assert.match(rejection.message, /gave up after 4 attempts: still down/);
    assert.equal(calls, 4);

    calls = 0;
    await assert.rejects(
      withRetries(
        async () => {
          calls++;
          throw new KafkaProtocolError(COORDINATOR_LOAD_IN_PROGRESS);
        },
        { ...FAST, retries: 0 },
      ),
      RetriesExhaustedError,
    );
    assert.equal(calls, 1, 'retries: 0 means one attempt');
  });

  it('throws non-retriable failures at once, after exactly one attempt', async () => {
    const denied = new KafkaProtocolError(GROUP_AUTHORIZATION_FAILED);
    assert.equal(denied.retriable, false);
    const bug = new TypeError('not a network problem');
    for (const failure of [denied, bug]) {
      let calls = 0;
      let retries = 0;
      const started = performance.now();
      await assert.rejects(
        withRetries(
          async () => {
            calls++;
            throw failure;
          },
          { initialBackoffMs: 1000, retries: 5, onRetry: () => void retries++ },
        ),
        (error) => error === failure,
      );
      assert.equal(calls, 1);
      assert.equal(retries, 0);
      assert.ok(performance.now() - started < 500, 'no backoff before throwing');
    }
  });

  it('stops waiting when the signal aborts', async () => {
    const controller = new AbortController();
    let calls = 0;
    const started = performance.now();
    setTimeout(() => controller.abort(new Error('stop')), 20);
    await assert.rejects(
      withRetries(
        async () => {
          calls++;
          throw new ConnectionError('down');
        },
        { initialBackoffMs: 5_000, maxBackoffMs: 5_000, signal: controller.signal },
      ),
      AbortedError,
    );
    assert.equal(calls, 1);
    assert.ok(performance.now() - started < 1_000, 'the 2.5-5 s backoff was cut short');

    // Already aborted: the failure is thrown without a retry.
    const failure = new ConnectionError('down');
    calls = 0;
    await assert.rejects(
      withRetries(
        async () => {
          calls++;
          throw failure;
        },
        { ...FAST, signal: AbortSignal.abort() },
      ),
      (error) => error === failure,
    );
    assert.equal(calls, 1);
  });

  it('gives up when the deadline has passed', async () => {
    let calls = 0;
    await assert.rejects(
      withRetries(
        async () => {
          calls++;
          throw new ConnectionError('down');
        },
        { initialBackoffMs: 20, maxBackoffMs: 20, retries: 1000, deadlineMs: 60 },
      ),
      RetriesExhaustedError,
    );
    // Waits of 10-20 ms within 60 ms: a handful of attempts, far fewer than the retry limit.
    assert.ok(calls >= 2 && calls <= 8, `${calls} attempts`);
  });
});
