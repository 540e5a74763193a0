/**
 * The loop of `brook perf produce`: sends fixed-size records as fast as allowed (or at a target
 * rate, spread evenly as Kafka's ThroughputThrottler does), times each from `send()` to its
 * acknowledgement, and never has more than a bounded number of records unacknowledged.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Producer } from '@brook/client';
import { ErrorTally, LatencyRecorder, type ProgressState, type StopReason } from './perf-stats.ts';

/**
 * Records sent but not yet acknowledged, at most. The producer's `bufferMemoryBytes` bounds
 * them by size already; this bounds them by count too (each costs a few hundred bytes of objects
 * besides its value). 20,000 gave the same throughput as 100,000 at 100 B against a local
 * broker; 5,000 was 15% slower.
 */
export const MAX_UNACKNOWLEDGED = 20_000;

/** Sends without a break at most this many records before letting the event loop run. */
const SENDS_PER_TURN = 256;

/** A throttled run sleeps when it is at least this far ahead of its schedule (timer precision). */
const MIN_SLEEP_MS = 2;

export interface ProduceLoopOptions {
  readonly producer: Producer;
  readonly topic: string;
  /** Values, sent in turn. */
  readonly payloads: readonly Buffer[];
  /** Stop after this many records (sent; the run waits for their answers). */
  readonly records?: number | undefined;
  /** Stop sending after this long. */
  readonly durationMs?: number | undefined;
  /** Records per second; 0 or less: as fast as the producer takes them. */
  readonly throughput: number;
  /** Stops sending; what was sent is still waited for. */
  readonly signal: AbortSignal;
}

export interface ProduceOutcome {
  readonly acknowledged: number;
  readonly failed: number;
  readonly bytes: number;
  readonly elapsedMs: number;
  readonly latency: LatencyRecorder;
  readonly errors: ErrorTally;
  readonly stoppedBy: StopReason;
}

/**
 * A running produce benchmark: `run()` does the work; `progress()` may be called meanwhile
 * (from a timer) for the live line.
 */
export class ProduceLoop {
  private readonly options: ProduceLoopOptions;
  private readonly latency = new LatencyRecorder();
  private readonly errors = new ErrorTally();
  private sent = 0;
  private acknowledged = 0;
  private ackedBytes = 0;
  private outstanding = 0;
  private startMs = 0;
  /** Wakes the loop when `outstanding` falls to `resumeAt` (or on abort). */
  private wake: (() => void) | undefined;
  private resumeAt = 0;

  constructor(options: ProduceLoopOptions) {
    this.options = options;
  }

  progress(): ProgressState {
    return {
      done: this.acknowledged,
      bytes: this.ackedBytes,
      elapsedMs: this.startMs === 0 ? 0 : performance.now() - this.startMs,
      totalRecords: this.options.records,
      durationMs: this.options.durationMs,
      p99Ms: this.latency.percentileMs(99),
    };
  }

  async run(): Promise<ProduceOutcome> {
    const { producer, topic, payloads, signal, throughput } = this.options;
    const limit = this.options.records ?? Number.POSITIVE_INFINITY;
    const intervalMs = throughput > 0 ? 1000 / throughput : 0;
    const onAbort = () => this.wakeUp();
    signal.addEventListener('abort', onAbort, { once: true });
    this.startMs = performance.now();
    const endMs =
      this.options.durationMs === undefined
        ? Number.POSITIVE_INFINITY
        : this.startMs + this.options.durationMs;
    let stoppedBy: StopReason = 'records';
    let turn = 0;
    try {
      while (this.sent < limit) {
        if (signal.aborted) {
          stoppedBy = 'interrupt';
          break;
        }
        const nowMs = performance.now();
        if (nowMs >= endMs) {
          stoppedBy = 'duration';
          break;
        }
        if (intervalMs > 0) {
          // Record n is due at start + n / rate: a run ahead of that sleeps, so records go out
          // evenly (in bursts of at most MIN_SLEEP_MS worth), not a second's worth at once.
          const aheadMs = this.startMs + this.sent * intervalMs - nowMs;
          if (aheadMs >= MIN_SLEEP_MS) {
            await sleep(Math.min(aheadMs, endMs - nowMs), signal);
            turn = 0;
            continue;
          }
        }
        if (this.outstanding >= MAX_UNACKNOWLEDGED || producer.waitingRecords > 0) {
          // The producer's buffer is full (the record just sent waits for room) or too many
          // records are unanswered: wait until some answers free room.
          await this.drainTo(this.outstanding - Math.max(1, this.outstanding >> 4));
          turn = 0;
          continue;
        }
        this.send(producer, topic, payloads[this.sent % payloads.length]!, nowMs);
        if (++turn >= SENDS_PER_TURN) {
          turn = 0;
          await nextTurn();
        }
      }
      if (this.outstanding > 0) {
        void producer.flush().catch(() => {});
        await this.drainTo(0);
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
    if (signal.aborted && stoppedBy === 'records' && this.sent < limit) stoppedBy = 'interrupt';
    return {
      acknowledged: this.acknowledged,
      failed: this.errors.total,
      bytes: this.ackedBytes,
      elapsedMs: performance.now() - this.startMs,
      latency: this.latency,
      errors: this.errors,
      stoppedBy,
    };
  }

  private send(producer: Producer, topic: string, value: Buffer, sentMs: number): void {
    this.sent++;
    this.outstanding++;
    producer.send({ topic, value }).then(
      () => {
        this.latency.record((performance.now() - sentMs) * 1000);
        this.acknowledged++;
        this.ackedBytes += value.length;
        this.settled();
      },
      (error: unknown) => {
        this.errors.add(error);
        this.settled();
      },
    );
  }

  private settled(): void {
    this.outstanding--;
    if (this.wake !== undefined && this.outstanding <= this.resumeAt) this.wakeUp();
  }

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /**
   * Resolves once at most `count` records are unanswered. While waiting for room (count > 0) an
   * abort ends the wait; the final drain (count 0) waits for every answer, which the producer's
   * delivery timeout bounds.
   */
  private drainTo(count: number): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if (this.outstanding <= count || (count > 0 && this.options.signal.aborted)) {
          resolve();
          return;
        }
        this.resumeAt = count;
        this.wake = check;
      };
      check();
    });
  }
}

/** Waits `ms`, or less when the signal aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted || ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
