import { join } from 'node:path';
import type { FileSystem } from '../fs/file-system.ts';
import { parseOffsetField, readCheckpoint, writeCheckpoint } from './checkpoint-file.ts';

export const LEADER_EPOCH_CHECKPOINT_FILE = 'leader-epoch-checkpoint';

export interface EpochEntry {
  readonly epoch: number;
  readonly startOffset: bigint;
}

/**
 * Which leader epoch wrote which offsets (Kafka's LeaderEpochFileCache): an entry per epoch
 * with the first offset it wrote, epochs and offsets both increasing. Followers use it to find
 * where their log diverges from the leader's (OffsetForLeaderEpoch). Persisted in the
 * partition directory's `leader-epoch-checkpoint` whenever it changes.
 */
export class LeaderEpochCache {
  private readonly fs: FileSystem;
  private readonly path: string;
  private entries: EpochEntry[];

  private constructor(fs: FileSystem, path: string, entries: EpochEntry[]) {
    this.fs = fs;
    this.path = path;
    this.entries = entries;
  }

  static async load(fs: FileSystem, directory: string): Promise<LeaderEpochCache> {
    const path = join(directory, LEADER_EPOCH_CHECKPOINT_FILE);
    const lines = (await readCheckpoint(fs, path, 2)) ?? [];
    const entries = lines.map(([epoch, offset]) => ({
      epoch: Number(epoch),
      startOffset: parseOffsetField(offset!, path),
    }));
    return new LeaderEpochCache(fs, path, entries);
  }

  get all(): readonly EpochEntry[] {
    return this.entries;
  }

  get latestEpoch(): number | undefined {
    return this.entries.at(-1)?.epoch;
  }

  /** Records that `epoch` starts writing at `startOffset` (no-op for an epoch already known). */
  async assign(epoch: number, startOffset: bigint): Promise<void> {
    if (epoch < 0) return;
    const latest = this.entries.at(-1);
    if (latest !== undefined && latest.epoch >= epoch) return;
    this.entries = this.entries.filter((entry) => entry.startOffset < startOffset);
    this.entries.push({ epoch, startOffset });
    await this.persist();
  }

  /**
   * The end offset of `epoch` as Kafka defines it: the start offset of the next larger epoch
   * (or `logEndOffset` for the latest), with the largest epoch at or below the one asked for.
   * Undefined when the cache knows no epoch at or below it.
   */
  endOffsetFor(
    epoch: number,
    logEndOffset: bigint,
  ): { epoch: number; endOffset: bigint } | undefined {
    let found: EpochEntry | undefined;
    let next: EpochEntry | undefined;
    for (const entry of this.entries) {
      if (entry.epoch <= epoch) found = entry;
      else {
        next = entry;
        break;
      }
    }
    if (found === undefined) return undefined;
    return { epoch: found.epoch, endOffset: next?.startOffset ?? logEndOffset };
  }

  /** Forgets entries starting at or after `offset` (the log was truncated there). */
  async truncateFromEnd(offset: bigint): Promise<void> {
    const kept = this.entries.filter((entry) => entry.startOffset < offset);
    if (kept.length === this.entries.length) return;
    this.entries = kept;
    await this.persist();
  }

  /** The log start moved to `offset`: the entry covering it now starts there. */
  async truncateFromStart(offset: bigint): Promise<void> {
    const before = this.entries.filter((entry) => entry.startOffset <= offset);
    const covering = before.at(-1);
    const after = this.entries.filter((entry) => entry.startOffset > offset);
    const kept = covering ? [{ epoch: covering.epoch, startOffset: offset }, ...after] : after;
    if (kept.length === this.entries.length && covering?.startOffset === offset) return;
    this.entries = kept;
    await this.persist();
  }

  private async persist(): Promise<void> {
    await writeCheckpoint(
      this.fs,
      this.path,
      this.entries.map((entry) => [entry.epoch, entry.startOffset]),
    );
  }
}
