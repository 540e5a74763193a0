/**
 * The loop of `brook perf consume`: reads records as fast as the consumer hands them out,
 * counting records and bytes, and puts each record's end-to-end latency (now minus its
 * timestamp) into the histogram. Stops at a count, after a time, when no record came for the
 * idle timeout, or on interrupt.
 */
import type { Consumer } from '@brook/client';
import { LatencyRecorder, type ProgressState, type StopReason } from './perf-stats.ts';

export interface ConsumeLoopOptions {
  readonly consumer: Consumer;
  /** Stop after this many records. */
  readonly records?: number | undefined;
  /** Stop after this long (in a group, from the assignment). */
  readonly durationMs?: number | undefined;
  /** In a group: the clock starts when the group assigns partitions (`assigned()`). */
  readonly group: boolean;
  /** Stop when no record came for this long (counted from the start, or the last assignment). */
  readonly idleTimeoutMs: number;
  /** Stops reading (an interrupt). */
  readonly signal: AbortSignal;
}

export interface ConsumeOutcome {
  readonly records: number;
  readonly bytes: number;
  /** From the start of reading (or the last assignment) to the last record read. */
  readonly elapsedMs: number;
  readonly latency: LatencyRecorder;
  readonly stoppedBy: StopReason;
}

/** A running consume benchmark: `run()` does the work; `progress()` for the live line. */
export class ConsumeLoop {
  private readonly options: ConsumeLoopOptions;
  private readonly latency = new LatencyRecorder();
  private records = 0;
  private bytes = 0;
  private startMs = 0;
  /** Whether the clock runs: from the start, or in a group from the first assignment. */
  private started = false;
  /** When the last record (or the start, or an assignment) came. */
  private lastActivityMs = 0;

  constructor(options: ConsumeLoopOptions) {
    this.options = options;
  }

  /** The group gave the consumer its partitions: the clock starts (again) from here. */
  assigned(): void {
    const nowMs = performance.now();
    if (this.records === 0) this.startMs = nowMs;
    this.started = true;
    this.lastActivityMs = nowMs;
  }

  progress(): ProgressState {
    return {
      done: this.records,
      bytes: this.bytes,
      elapsedMs: this.startMs === 0 ? 0 : performance.now() - this.startMs,
      totalRecords: this.options.records,
      durationMs: this.options.durationMs,
      p99Ms: this.latency.percentileMs(99),
    };
  }

  async run(): Promise<ConsumeOutcome> {
    const { consumer, idleTimeoutMs, durationMs } = this.options;
    const limit = this.options.records ?? Number.POSITIVE_INFINITY;
    const stop = new AbortController();
    let stoppedBy: StopReason | undefined;
    const end = (reason: StopReason) => {
      stoppedBy ??= reason;
      stop.abort();
    };
    const onInterrupt = () => end('interrupt');
    this.options.signal.addEventListener('abort', onInterrupt, { once: true });
    if (this.options.signal.aborted) end('interrupt');
    this.startMs = performance.now();
    this.started = !this.options.group;
    this.lastActivityMs = this.startMs;
    const watchdog = setInterval(
      () => {
        const nowMs = performance.now();
        if (durationMs !== undefined && this.started && nowMs - this.startMs >= durationMs) {
          end('duration');
        } else if (nowMs - this.lastActivityMs >= idleTimeoutMs) end('idle');
      },
      Math.max(10, Math.min(100, idleTimeoutMs / 4)),
    );
    let lastRecordMs = 0;
    try {
      for await (const batch of consumer.batches({ signal: stop.signal })) {
        const nowMs = Date.now();
        for (const record of batch.records) {
          const timestamp = Number(record.timestamp);
          if (timestamp >= 0) this.latency.record((nowMs - timestamp) * 1000);
          this.bytes += (record.value?.length ?? 0) + (record.key?.length ?? 0);
          if (++this.records >= limit) {
            stoppedBy = 'records';
            break;
          }
        }
        lastRecordMs = performance.now();
        this.lastActivityMs = lastRecordMs;
        if (stoppedBy === 'records') break;
      }
    } catch (error) {
      // The iteration ends with an AbortedError when one of the stops above aborted it.
      if (!stop.signal.aborted) throw error;
    } finally {
      clearInterval(watchdog);
      this.options.signal.removeEventListener('abort', onInterrupt);
    }
    // Time in the run: to the last record, unless the clock ran out first.
    const endMs = stoppedBy === 'duration' || this.records === 0 ? performance.now() : lastRecordMs;
    return {
      records: this.records,
      bytes: this.bytes,
      elapsedMs: Math.max(0, endMs - this.startMs),
      latency: this.latency,
      stoppedBy: stoppedBy ?? 'interrupt',
    };
  }
}
