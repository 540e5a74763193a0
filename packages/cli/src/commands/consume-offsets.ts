/**
 * Where `brook consume` starts reading: the `-o/--offset` forms (kcat's: beginning, end, an
 * offset, -N from the end, a timestamp) and `--from-time`, and the offset each comes to in each
 * partition, found with ListOffsets.
 */
import type { Admin, OffsetQuery, TopicPartition } from '@brook/client';
import { usageError } from '../common.ts';

export type StartAt =
  | { readonly kind: 'beginning' }
  | { readonly kind: 'end' }
  /** This offset in every partition (brought within the log's start and end). */
  | { readonly kind: 'offset'; readonly offset: bigint }
  /** The last `count` records of every partition. */
  | { readonly kind: 'from-end'; readonly count: bigint }
  /** The first record at or after this time in every partition (the end when there is none). */
  | { readonly kind: 'time'; readonly timestampMs: number };

/** Parses `-o`: beginning (earliest, start), end (latest), N, -N, @MS or s@MS. */
export function parseStartAt(text: string): StartAt {
  const value = text.trim().toLowerCase();
  if (value === 'beginning' || value === 'earliest' || value === 'start') {
    return { kind: 'beginning' };
  }
  if (value === 'end' || value === 'latest') return { kind: 'end' };
  if (/^\d+$/.test(value)) return { kind: 'offset', offset: BigInt(value) };
  if (/^-\d+$/.test(value)) return { kind: 'from-end', count: -BigInt(value) };
  const time = /^s?@(\d+)$/.exec(value);
  if (time !== null) return { kind: 'time', timestampMs: Number(time[1]) };
  throw usageError(
    `--offset expects beginning, end, an offset N, -N (the last N records), or @MS (a time in ms since the epoch); got '${text}'`,
  );
}

/** Parses `--from-time`: an ISO date (or anything Date.parse takes), or ms since the epoch. */
export function parseFromTime(text: string): StartAt {
  const ms = /^\d+$/.test(text.trim()) ? Number(text) : Date.parse(text);
  if (!Number.isSafeInteger(ms) || ms < 0) {
    throw usageError(
      `--from-time expects an ISO date such as 2026-01-31T12:00:00Z (or ms since the epoch), got '${text}'`,
    );
  }
  return { kind: 'time', timestampMs: ms };
}

export function describeStartAt(start: StartAt): string {
  switch (start.kind) {
    case 'beginning':
      return 'the beginning';
    case 'end':
      return 'the end';
    case 'offset':
      return `offset ${start.offset}`;
    case 'from-end':
      return `${start.count} from the end`;
    case 'time':
      return new Date(start.timestampMs).toISOString();
  }
}

/**
 * The offset to start at in each partition for an offset, -N or a time (beginning and end are
 * left to the consumer). An offset is brought within [log start, log end]; -N never goes below
 * the log start; a time after the last record is the log end.
 */
export async function startOffsets(
  admin: Admin,
  partitions: readonly TopicPartition[],
  start: StartAt,
): Promise<bigint[]> {
  const queries: OffsetQuery[] = [];
  for (const tp of partitions) {
    queries.push({ ...tp, spec: 'earliest' }, { ...tp, spec: 'latest' });
    if (start.kind === 'time') queries.push({ ...tp, spec: { timestamp: start.timestampMs } });
  }
  const listed = await admin.listOffsets(queries);
  for (const entry of listed) if (entry.error !== null) throw entry.error;
  const step = start.kind === 'time' ? 3 : 2;
  return partitions.map((_tp, i) => {
    const earliest = listed[i * step]!.offset;
    const latest = listed[i * step + 1]!.offset;
    switch (start.kind) {
      case 'offset':
        return start.offset < earliest ? earliest : start.offset > latest ? latest : start.offset;
      case 'from-end': {
        const from = latest - start.count;
        return from < earliest ? earliest : from;
      }
      case 'time': {
        const found = listed[i * step + 2]!.offset;
        return found < 0n ? latest : found;
      }
      case 'beginning':
        return earliest;
      default:
        return latest;
    }
  });
}
