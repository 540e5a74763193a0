import { join } from 'node:path';
import {
  parseOffsetField,
  readCheckpoint,
  writeCheckpoint,
} from '../checkpoint/checkpoint-file.ts';
import { type CleanStats, cleanLog, needsCleaning } from '../cleaner/log-cleaner.ts';
import { StorageCorruptionError } from '../errors.ts';
import { FileHandlePool } from '../fs/file-handle-pool.ts';
import { type FileSystem, mkdirDurable } from '../fs/file-system.ts';
import { PartitionLog, type PartitionLogConfig } from './partition-log.ts';

/** Kafka's marker of a clean shutdown, in the data directory. */
export const CLEAN_SHUTDOWN_FILE = '.kafka_cleanshutdown';
export const RECOVERY_POINT_CHECKPOINT_FILE = 'recovery-point-offset-checkpoint';
export const LOG_START_OFFSET_CHECKPOINT_FILE = 'log-start-offset-checkpoint';
export const CLEANER_OFFSET_CHECKPOINT_FILE = 'cleaner-offset-checkpoint';
/** A partition directory being deleted ends with this; a restart finishes the job. */
export const DELETE_DIRECTORY_SUFFIX = '-delete';

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

export function topicPartitionKey(tp: TopicPartition): string {
  return `${tp.topic}-${tp.partition}`;
}

/** Parses a partition directory name `<topic>-<partition>` (topics may contain '-'). */
export function parseTopicPartition(name: string): TopicPartition | undefined {
  const match = /^(.+)-(\d+)$/.exec(name);
  if (!match) return undefined;
  return { topic: match[1]!, partition: Number(match[2]) };
}

export interface LogManagerOptions {
  readonly fs: FileSystem;
  readonly dataDirectory: string;
  /** The settings of a topic's logs (the broker's defaults merged with the topic's overrides). */
  readonly configFor: (topic: string) => PartitionLogConfig;
  /** Bound on open files across every log (segments open lazily, least recently used close). */
  readonly maxOpenFiles?: number;
  /** Logs opened at once during startup. */
  readonly openConcurrency?: number;
  /** `log.retention.check.interval.ms`; 0 disables the timer (call `applyRetention`). */
  readonly retentionCheckIntervalMs?: number;
  /** `log.flush.scheduler.interval.ms`: how often `flush.ms` is checked; 0 disables. */
  readonly flushCheckIntervalMs?: number;
  /** `log.flush.offset.checkpoint.interval.ms`; 0 disables the timer. */
  readonly checkpointIntervalMs?: number;
  /** How often the cleaner looks for a log to compact (`log.cleaner.backoff.ms`); 0 disables. */
  readonly cleanerBackoffMs?: number;
  /** The cleaner's offset map memory (`log.cleaner.dedupe.buffer.size`, default 128 MiB). */
  readonly cleanerDedupeBufferBytes?: number;
  /** `producer.id.expiration.ms`: idle producers' state is dropped after it (default 1 day). */
  readonly producerIdExpirationMs?: number;
  /** `producer.id.expiration.check.interval.ms` (default 10 minutes); 0 disables the timer. */
  readonly producerIdExpirationCheckIntervalMs?: number;
  readonly clock?: () => number;
}

/**
 * Every partition log of a broker's data directory (Kafka's LogManager): opening them at start
 * (recovering what an unclean shutdown left), the recovery-point and log-start-offset
 * checkpoints, the clean-shutdown marker, and the periodic flush, retention and checkpoint work.
 */
export class LogManager {
  private readonly options: LogManagerOptions;
  readonly pool: FileHandlePool;
  private readonly logs = new Map<string, PartitionLog>();
  private readonly timers: ReturnType<typeof setInterval>[] = [];
  private closed = false;
  /** The previous run ended with a clean shutdown (so nothing was recovered). */
  readonly hadCleanShutdown: boolean;

  private constructor(options: LogManagerOptions, hadCleanShutdown: boolean) {
    this.options = options;
    this.hadCleanShutdown = hadCleanShutdown;
    this.pool = new FileHandlePool(options.fs, { maxOpenFiles: options.maxOpenFiles ?? 4096 });
  }

  /** Opens every partition log under the data directory and starts the periodic work. */
  static async start(options: LogManagerOptions): Promise<LogManager> {
    const fs = options.fs;
    const directory = options.dataDirectory;
    await mkdirDurable(fs, directory);
    const markerPath = join(directory, CLEAN_SHUTDOWN_FILE);
    const clean = await fs.exists(markerPath);
    const manager = new LogManager(options, clean);
    const recoveryPoints = await manager.readOffsets(RECOVERY_POINT_CHECKPOINT_FILE);
    const logStartOffsets = await manager.readOffsets(LOG_START_OFFSET_CHECKPOINT_FILE);
    const firstDirtyOffsets = await manager.readOffsets(CLEANER_OFFSET_CHECKPOINT_FILE);
    const names = await fs.readdir(directory);
    const toOpen: { tp: TopicPartition; path: string }[] = [];
    for (const name of names) {
      const path = join(directory, name);
      if (name.endsWith(DELETE_DIRECTORY_SUFFIX)) {
        await fs.removeDirectory(path);
        continue;
      }
      const tp = parseTopicPartition(name);
      if (tp !== undefined) toOpen.push({ tp, path });
    }
    await runLimited(toOpen, options.openConcurrency ?? 16, async ({ tp, path }) => {
      const key = topicPartitionKey(tp);
      const log = await PartitionLog.open({
        directory: path,
        pool: manager.pool,
        config: options.configFor(tp.topic),
        recoveryPoint: recoveryPoints.get(key) ?? 0n,
        logStartOffset: logStartOffsets.get(key) ?? 0n,
        cleanShutdown: clean,
        ...(firstDirtyOffsets.has(key) ? { firstDirtyOffset: firstDirtyOffsets.get(key)! } : {}),
        ...(options.clock ? { clock: options.clock } : {}),
        ...manager.producerOptions(),
      });
      manager.logs.set(key, log);
    });
    // From here on a crash is unclean: remove the marker (durably) before anything is appended.
    if (clean) {
      await fs.unlink(markerPath);
      await fs.syncDirectory(directory);
    }
    await manager.writeCheckpoints();
    manager.startTimers();
    return manager;
  }

  private async readOffsets(file: string): Promise<Map<string, bigint>> {
    const path = join(this.options.dataDirectory, file);
    const offsets = new Map<string, bigint>();
    let entries: string[][] | undefined;
    try {
      entries = await readCheckpoint(this.options.fs, path, 3);
    } catch (error) {
      // A damaged checkpoint is not trusted: recover from offset 0, as if it were missing.
      if (error instanceof StorageCorruptionError) return offsets;
      throw error;
    }
    for (const [topic, partition, offset] of entries ?? []) {
      offsets.set(`${topic}-${partition}`, parseOffsetField(offset!, path));
    }
    return offsets;
  }

  private producerOptions(): { producerIdExpirationMs?: number } {
    const ms = this.options.producerIdExpirationMs;
    return ms === undefined ? {} : { producerIdExpirationMs: ms };
  }

  private startTimers(): void {
    const every = (
      intervalMs: number | undefined,
      fallbackMs: number,
      task: () => Promise<unknown>,
    ) => {
      const ms = intervalMs ?? fallbackMs;
      if (ms <= 0) return;
      let running = false;
      const timer = setInterval(() => {
        if (running || this.closed) return;
        running = true;
        task()
          .catch(() => {
            // A failing log is taken offline by the log itself; the next tick tries the others.
          })
          .finally(() => {
            running = false;
          });
      }, ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(this.options.retentionCheckIntervalMs, 300_000, () => this.applyRetention());
    every(this.options.flushCheckIntervalMs, 1_000, () => this.flushDue());
    every(this.options.checkpointIntervalMs, 60_000, () => this.writeCheckpoints());
    every(this.options.cleanerBackoffMs, 15_000, () => this.cleanOnce());
    every(this.options.producerIdExpirationCheckIntervalMs, 600_000, async () =>
      this.removeExpiredProducers(),
    );
  }

  // ---- logs ---------------------------------------------------------------------------------

  get(tp: TopicPartition): PartitionLog | undefined {
    return this.logs.get(topicPartitionKey(tp));
  }

  /** Every open log with its topic and partition. */
  *entries(): IterableIterator<[TopicPartition, PartitionLog]> {
    for (const [key, log] of this.logs) yield [parseTopicPartition(key)!, log];
  }

  get size(): number {
    return this.logs.size;
  }

  /** The log of a partition, created (empty, at offset 0) when it does not exist. */
  async getOrCreate(tp: TopicPartition): Promise<PartitionLog> {
    const key = topicPartitionKey(tp);
    const existing = this.logs.get(key);
    if (existing) return existing;
    const log = await PartitionLog.open({
      directory: join(this.options.dataDirectory, key),
      pool: this.pool,
      config: this.options.configFor(tp.topic),
      recoveryPoint: 0n,
      logStartOffset: 0n,
      cleanShutdown: false,
      ...(this.options.clock ? { clock: this.options.clock } : {}),
      ...this.producerOptions(),
    });
    // Another caller may have created it while this one awaited.
    const raced = this.logs.get(key);
    if (raced) {
      await log.close();
      return raced;
    }
    this.logs.set(key, log);
    return log;
  }

  /** Re-reads a topic's settings into its logs (after AlterConfigs). */
  reconfigure(topic: string): void {
    const config = this.options.configFor(topic);
    for (const [tp, log] of this.entries()) if (tp.topic === topic) log.updateConfig(config);
  }

  /**
   * Deletes a partition's log: the directory is renamed `…-delete` at once (so a crash cannot
   * bring the partition back) and removed.
   */
  async delete(tp: TopicPartition): Promise<void> {
    const key = topicPartitionKey(tp);
    const log = this.logs.get(key);
    if (log === undefined) return;
    this.logs.delete(key);
    await log.close().catch(() => {});
    const fs = this.options.fs;
    const renamed = `${log.directory}.${Date.now()}${DELETE_DIRECTORY_SUFFIX}`;
    await fs.rename(log.directory, renamed);
    await fs.syncDirectory(this.options.dataDirectory);
    await fs.removeDirectory(renamed);
  }

  // ---- periodic work ------------------------------------------------------------------------

  /** Applies retention to every log; returns the number of segments deleted. */
  async applyRetention(now?: number): Promise<number> {
    let deleted = 0;
    for (const log of this.logs.values()) deleted += await log.applyRetention(now);
    return deleted;
  }

  /** Drops idle producers' state (`producer.id.expiration.ms`) in every log; returns how many. */
  removeExpiredProducers(now = (this.options.clock ?? Date.now)()): number {
    let removed = 0;
    for (const log of this.logs.values()) removed += log.removeExpiredProducers(now);
    return removed;
  }

  /** Flushes the logs whose `flush.ms` has passed. */
  async flushDue(now = (this.options.clock ?? Date.now)()): Promise<void> {
    for (const log of this.logs.values()) await log.flushIfDue(now);
  }

  /**
   * Compacts the dirtiest log that is due (one log per call, as Kafka's single cleaner thread
   * does). Returns what was cleaned, or undefined when no log needed it.
   */
  async cleanOnce(
    now = (this.options.clock ?? Date.now)(),
  ): Promise<(CleanStats & { topicPartition: TopicPartition }) | undefined> {
    let best: { tp: TopicPartition; log: PartitionLog; ratio: number } | undefined;
    for (const [tp, log] of this.entries()) {
      const { due, dirtyRatio } = needsCleaning(log, now, this.options.configFor(tp.topic));
      if (due && (best === undefined || dirtyRatio > best.ratio))
        best = { tp, log, ratio: dirtyRatio };
    }
    if (best === undefined) return undefined;
    const stats = await cleanLog(best.log, this.options.configFor(best.tp.topic), {
      now,
      dedupeBufferBytes: this.options.cleanerDedupeBufferBytes ?? 128 * 1024 * 1024,
    });
    if (stats === undefined) return undefined;
    await this.writeCheckpoints();
    return { ...stats, topicPartition: best.tp };
  }

  /** Writes the recovery-point, log-start-offset and cleaner-offset checkpoints of every log. */
  async writeCheckpoints(): Promise<void> {
    const recovery: [string, number, bigint][] = [];
    const start: [string, number, bigint][] = [];
    const cleaner: [string, number, bigint][] = [];
    for (const [tp, log] of this.entries()) {
      recovery.push([tp.topic, tp.partition, log.recoveryPoint]);
      start.push([tp.topic, tp.partition, log.logStartOffset]);
      if (this.options.configFor(tp.topic).cleanupPolicy.includes('compact')) {
        cleaner.push([tp.topic, tp.partition, log.firstDirtyOffset]);
      }
    }
    const fs = this.options.fs;
    const directory = this.options.dataDirectory;
    await writeCheckpoint(fs, join(directory, RECOVERY_POINT_CHECKPOINT_FILE), recovery);
    await writeCheckpoint(fs, join(directory, LOG_START_OFFSET_CHECKPOINT_FILE), start);
    await writeCheckpoint(fs, join(directory, CLEANER_OFFSET_CHECKPOINT_FILE), cleaner);
  }

  /**
   * Closes every log (flushing it), writes the checkpoints and the clean-shutdown marker, so the
   * next start trusts the files and recovers nothing.
   */
  async shutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    let allClean = true;
    await runLimited([...this.logs.values()], 16, async (log) => {
      try {
        await log.close();
      } catch {
        allClean = false;
      }
    });
    await this.writeCheckpoints();
    await this.pool.closeAll();
    if (allClean) {
      await this.options.fs.writeFileAtomic(
        join(this.options.dataDirectory, CLEAN_SHUTDOWN_FILE),
        Buffer.alloc(0),
      );
    }
  }
}

/** Runs `task` over `items` with at most `limit` running at once. */
async function runLimited<T>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await task(item);
    }
  });
  await Promise.all(workers);
}
