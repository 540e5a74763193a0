/**
 * What `brook perf produce` and `brook perf consume` share: the latency histogram (HdrHistogram,
 * microseconds from 1 µs to 60 s, 3 significant digits), failures counted by message, the
 * report in text and JSON, the live progress line, and the payloads the producer sends.
 */
import { randomFillSync } from 'node:crypto';
import { build, type Histogram } from 'hdr-histogram-js';

/** The longest latency the histogram tells apart; longer ones count as this (60 s). */
export const HIGHEST_LATENCY_US = 60_000_000;

/** 1 MB in the MB/s figures: 2^20 bytes, as Kafka's perf tools count. */
export const BYTES_PER_MB = 1024 * 1024;

/** Latencies in ms, as reported (percentiles within 0.1% by the histogram's precision). */
export interface LatencySummary {
  readonly min: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p99_9: number;
  readonly max: number;
}

/** The percentiles of the report, with their labels and JSON keys. */
const PERCENTILES = [
  { key: 'p50', label: 'p50', at: 50 },
  { key: 'p90', label: 'p90', at: 90 },
  { key: 'p99', label: 'p99', at: 99 },
  { key: 'p99_9', label: 'p99.9', at: 99.9 },
] as const;

/**
 * Latencies in microseconds: an HDR histogram (plain JavaScript; the WebAssembly one costs more
 * to start than it saves on a run of a million records) plus the exact min, max and sum.
 */
export class LatencyRecorder {
  private readonly histogram: Histogram = build({
    bitBucketSize: 32,
    autoResize: false,
    lowestDiscernibleValue: 1,
    highestTrackableValue: HIGHEST_LATENCY_US,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false,
  });
  count = 0;
  private sumUs = 0;
  private minUs = Number.POSITIVE_INFINITY;
  private maxUs = 0;

  /** Records one latency; negative ones (clocks apart) count as 0, longer than 60 s as 60 s. */
  record(latencyUs: number): void {
    const us =
      latencyUs <= 0 ? 0 : latencyUs >= HIGHEST_LATENCY_US ? HIGHEST_LATENCY_US : latencyUs;
    const rounded = Math.round(us);
    this.histogram.recordValue(rounded);
    this.count++;
    this.sumUs += us;
    if (us < this.minUs) this.minUs = us;
    if (us > this.maxUs) this.maxUs = us;
  }

  /** The latency at a percentile in ms (0 before any record). */
  percentileMs(percentile: number): number {
    if (this.count === 0) return 0;
    return Math.min(this.histogram.getValueAtPercentile(percentile), this.maxUs) / 1000;
  }

  /**
   * Min, mean and max are exact; a percentile is the histogram's (the highest value of its
   * bucket), held to the exact max so that p50 <= p90 <= p99 <= p99.9 <= max always.
   */
  summary(): LatencySummary {
    if (this.count === 0) return { min: 0, mean: 0, p50: 0, p90: 0, p99: 0, p99_9: 0, max: 0 };
    const summary: Record<string, number> = {
      min: this.minUs / 1000,
      mean: this.sumUs / this.count / 1000,
    };
    for (const { key, at } of PERCENTILES) summary[key] = this.percentileMs(at);
    summary.max = this.maxUs / 1000;
    return summary as unknown as LatencySummary;
  }
}

/** Failures by message, for the report (the first few distinct ones, with their counts). */
export class ErrorTally {
  private readonly counts = new Map<string, number>();
  private static readonly MAX_DISTINCT = 10;
  total = 0;

  add(error: unknown): void {
    this.total++;
    const message = (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
    const count = this.counts.get(message);
    if (count !== undefined) this.counts.set(message, count + 1);
    else if (this.counts.size < ErrorTally.MAX_DISTINCT) this.counts.set(message, 1);
  }

  list(): { message: string; count: number }[] {
    return [...this.counts].map(([message, count]) => ({ message, count }));
  }
}

/** Why a run ended. */
export type StopReason = 'records' | 'duration' | 'idle' | 'interrupt';

/** What a run measured, for the text report and `--json`. */
export interface PerfReport {
  readonly command: 'produce' | 'consume';
  readonly topics: readonly string[];
  /** Records acknowledged (produce) or read (consume). */
  readonly records: number;
  /** Records that failed (produce only; 0 for consume). */
  readonly failed: number;
  /** Bytes of those records: values (and keys when consuming). */
  readonly bytes: number;
  readonly elapsedMs: number;
  readonly recordsPerSec: number;
  readonly mbPerSec: number;
  readonly latencyMs: LatencySummary;
  readonly stoppedBy: StopReason;
  readonly errors: readonly { message: string; count: number }[];
}

/** Throughput figures of a count of records and bytes over a time. */
export function rates(
  records: number,
  bytes: number,
  elapsedMs: number,
): { recordsPerSec: number; mbPerSec: number } {
  if (elapsedMs <= 0) return { recordsPerSec: 0, mbPerSec: 0 };
  return {
    recordsPerSec: (records * 1000) / elapsedMs,
    mbPerSec: (bytes * 1000) / elapsedMs / BYTES_PER_MB,
  };
}

/** The report for `--json`: numbers rounded to what they can tell (µs for latencies). */
export function reportJson(report: PerfReport): Record<string, unknown> {
  const round = (value: number, digits: number) => Number(value.toFixed(digits));
  const latencyMs: Record<string, number> = {};
  for (const [key, value] of Object.entries(report.latencyMs)) latencyMs[key] = round(value, 3);
  return {
    command: report.command,
    topics: report.topics,
    records: report.records,
    failed: report.failed,
    bytes: report.bytes,
    elapsedMs: round(report.elapsedMs, 1),
    recordsPerSec: round(report.recordsPerSec, 1),
    mbPerSec: round(report.mbPerSec, 3),
    latencyMs,
    stoppedBy: report.stoppedBy,
    errors: report.errors,
  };
}

/** The report for people: one figure per line, latencies in ms with 3 decimals. */
export function reportText(report: PerfReport, latencyTitle: string): string {
  const lines: [string, string][] = [
    [report.command === 'produce' ? 'records sent' : 'records read', String(report.records)],
  ];
  if (report.command === 'produce') lines.push(['failed', String(report.failed)]);
  lines.push(
    ['bytes', String(report.bytes)],
    ['elapsed', `${(report.elapsedMs / 1000).toFixed(3)} s`],
    ['records/s', report.recordsPerSec.toFixed(1)],
    ['MB/s', report.mbPerSec.toFixed(2)],
  );
  const latency = report.latencyMs;
  const latencyLines: [string, string][] = [
    ['min', latency.min.toFixed(3)],
    ['mean', latency.mean.toFixed(3)],
    ...PERCENTILES.map(({ key, label }): [string, string] => [label, latency[key].toFixed(3)]),
    ['max', latency.max.toFixed(3)],
  ];
  const width = 14;
  let text = lines.map(([name, value]) => `${name.padEnd(width)}${value}\n`).join('');
  text += `latency ms  (${latencyTitle})\n`;
  text += latencyLines.map(([name, value]) => `  ${name.padEnd(width - 2)}${value}\n`).join('');
  for (const { message, count } of report.errors) text += `error       ${count} x ${message}\n`;
  return text;
}

/** A figure for the progress line: 1234, 12.3k, 1.23M. */
export function compact(value: number): string {
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)}M`;
  if (value >= 1e4) return `${(value / 1e3).toFixed(1)}k`;
  return value.toFixed(0);
}

/** A duration for the progress line: 42s, 3m05s. */
export function shortDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** How far a run is, for the progress line. */
export interface ProgressState {
  /** Records done so far (acknowledged, or read). */
  readonly done: number;
  readonly bytes: number;
  readonly elapsedMs: number;
  /** The goal, when the run stops at a count. */
  readonly totalRecords?: number | undefined;
  /** The goal, when the run stops after a time. */
  readonly durationMs?: number | undefined;
  readonly p99Ms: number;
}

/**
 * The live line: a bar when the goal is known, done/total, the rates over the last interval,
 * p99 so far and the time left.
 */
export class ProgressLine {
  private lastDone = 0;
  private lastBytes = 0;
  private lastMs = 0;
  private recordsPerSec = 0;
  private mbPerSec = 0;

  render(state: ProgressState): string {
    const intervalMs = state.elapsedMs - this.lastMs;
    if (intervalMs >= 100) {
      this.recordsPerSec = ((state.done - this.lastDone) * 1000) / intervalMs;
      this.mbPerSec = ((state.bytes - this.lastBytes) * 1000) / intervalMs / BYTES_PER_MB;
      this.lastDone = state.done;
      this.lastBytes = state.bytes;
      this.lastMs = state.elapsedMs;
    }
    let fraction: number | undefined;
    let counts: string;
    let eta = '';
    if (state.totalRecords !== undefined) {
      fraction = state.done / state.totalRecords;
      counts = `${state.done}/${state.totalRecords}`;
      if (this.recordsPerSec > 0) {
        eta = `  ETA ${shortDuration(((state.totalRecords - state.done) * 1000) / this.recordsPerSec)}`;
      }
    } else if (state.durationMs !== undefined) {
      fraction = state.elapsedMs / state.durationMs;
      counts = `${state.done}`;
      eta = `  ETA ${shortDuration(state.durationMs - state.elapsedMs)}`;
    } else {
      counts = `${state.done}`;
    }
    const bar = fraction === undefined ? '' : `${progressBar(fraction, 20)} `;
    return (
      `${bar}${counts} records  ${compact(this.recordsPerSec)} rec/s  ` +
      `${this.mbPerSec.toFixed(1)} MB/s  p99 ${state.p99Ms.toFixed(2)} ms${eta}`
    );
  }
}

function progressBar(fraction: number, width: number): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

/** At most this many bytes of payloads (fewer variants for large records). */
const PAYLOAD_POOL_BYTES = 16 * 1024 * 1024;
const MAX_PAYLOADS = 1024;

/**
 * Values to send, as Kafka's producer perf tool makes them: random uppercase letters, made once.
 * Several variants (slices of one buffer) taken in turn, so that a batch does not repeat one
 * value over and over, which would make compression look better than it is.
 */
export function makePayloads(recordSizeBytes: number): Buffer[] {
  const variants = Math.max(
    1,
    Math.min(MAX_PAYLOADS, Math.floor(PAYLOAD_POOL_BYTES / Math.max(1, recordSizeBytes))),
  );
  const pool = randomFillSync(Buffer.allocUnsafe(variants * recordSizeBytes));
  for (let i = 0; i < pool.length; i++) pool[i] = 65 + (pool[i]! % 26);
  const payloads: Buffer[] = [];
  for (let i = 0; i < variants; i++) {
    payloads.push(pool.subarray(i * recordSizeBytes, (i + 1) * recordSizeBytes));
  }
  return payloads;
}
