/**
 * The consumer's fetcher: one Fetch at a time per broker, for every assigned partition that
 * broker leads and that may be fetched now (a known position, not paused, no fetch out for it,
 * less than a response's worth prefetched). Fetches long-poll (`maxWaitMs`, `minBytes`).
 *
 * Prefetching is bounded: fetching stops while the prefetched bytes reach `maxBufferedBytes`,
 * and a fetch asks for at most what is left of it (bytes of fetches still out count as used).
 * A broker returns the first batch even when it is larger (KIP-74), so the bound can be passed
 * by at most one batch per broker.
 *
 * Errors: a moved leader or an unknown partition refreshes metadata and backs off the partition;
 * OFFSET_OUT_OF_RANGE resets its position by `auto.offset.reset`; any other error is kept for
 * the application. Full fetches only: no fetch sessions (KIP-227).
 */
import {
  ErrorCode,
  FetchRequest,
  FetchResponse,
  KafkaProtocolError,
  raiseMallocThresholds,
} from '@brook/protocol';
import type { ClientLogger } from '../logger.ts';
import type { Cluster } from '../network/cluster.ts';
import { backoffMs } from '../retry.ts';
import { FetchedRecords } from './fetched-records.ts';
import type { BufferAccount, PartitionState } from './partition-state.ts';
import { addTo } from './types.ts';

export interface FetchTarget {
  /** The partitions assigned now. */
  partitions(): Iterable<PartitionState>;
  /** Whether `state` is still assigned (not revoked or replaced). */
  owns(state: PartitionState): boolean;
  readonly account: BufferAccount;
  /** Records arrived, or a partition has an error for the application. */
  onData(): void;
  /** The fetch position is out of the log's range. */
  onOutOfRange(state: PartitionState): void;
}

export interface FetcherOptions {
  readonly maxWaitMs: number;
  readonly minBytes: number;
  readonly maxBytes: number;
  readonly maxPartitionBytes: number;
  readonly maxBufferedBytes: number;
  readonly isolationLevel: number;
  readonly verifyCrc: boolean;
  readonly logger: ClientLogger;
}

/** Errors after which the partition is fetched again once metadata is fresh. */
const REFRESH_METADATA: ReadonlySet<number> = new Set([
  ErrorCode.NOT_LEADER_OR_FOLLOWER,
  ErrorCode.LEADER_NOT_AVAILABLE,
  ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  ErrorCode.UNKNOWN_TOPIC_ID,
  ErrorCode.INCONSISTENT_TOPIC_ID,
  ErrorCode.FENCED_LEADER_EPOCH,
  ErrorCode.UNKNOWN_LEADER_EPOCH,
  ErrorCode.KAFKA_STORAGE_ERROR,
  ErrorCode.REPLICA_NOT_AVAILABLE,
  ErrorCode.OFFSET_NOT_AVAILABLE,
]);

const ZERO_UUID = '00000000-0000-0000-0000-000000000000';
/** Topic ids in Fetch from v13. */
const LAST_VERSION_WITH_NAMES = 12;

interface Fetching {
  readonly state: PartitionState;
  readonly epoch: number;
  readonly fetchOffset: bigint;
  readonly leaderEpoch: number;
}

export class Fetcher {
  private readonly cluster: Cluster;
  private readonly target: FetchTarget;
  private readonly options: FetcherOptions;
  private readonly inFlight = new Map<number, AbortController>();
  /** Bytes that fetches still out may bring. */
  private reservedBytes = 0;
  private stopped = false;
  private refreshing = false;
  private failures = 0;
  /** Metadata refreshes in a row that left some partition without a leader. */
  private metadataFailures = 0;
  private metadataRetryAtMs = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly done = new Set<Promise<void>>();

  constructor(cluster: Cluster, target: FetchTarget, options: FetcherOptions) {
    this.cluster = cluster;
    this.target = target;
    this.options = options;
    // Responses of megabytes each, freed in bursts: keep glibc from handing their memory back.
    raiseMallocThresholds();
  }

  /** Starts the fetches that can go out now. Cheap; call it whenever something changed. */
  schedule(): void {
    if (this.stopped) return;
    const now = Date.now();
    const byLeader = new Map<number, PartitionState[]>();
    let needMetadata = false;
    let nextRetryMs = Number.POSITIVE_INFINITY;
    for (const state of this.target.partitions()) {
      if (
        state.fetchPosition === null ||
        state.paused ||
        state.revoking ||
        state.fetching ||
        state.error !== undefined ||
        state.bufferedBytes >= this.options.maxPartitionBytes
      ) {
        continue;
      }
      if (state.retryAtMs > now) {
        nextRetryMs = Math.min(nextRetryMs, state.retryAtMs - now);
        continue;
      }
      const leader = this.cluster.cachedTopic(state.topic)?.partitions[state.partition]?.leader;
      if (leader === undefined || leader < 0) {
        needMetadata = true;
        continue;
      }
      if (this.inFlight.has(leader)) continue;
      addTo(byLeader, leader, state);
    }
    for (const [leader, states] of byLeader) {
      const budget = this.options.maxBufferedBytes - this.target.account.bytes - this.reservedBytes;
      if (budget <= 0) break;
      this.track(this.fetchFrom(leader, states, Math.min(this.options.maxBytes, budget)));
    }
    if (needMetadata) this.refreshMetadata();
    else this.metadataFailures = 0;
    if (Number.isFinite(nextRetryMs) && this.retryTimer === undefined) {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.schedule();
      }, nextRetryMs);
      this.retryTimer.unref();
    }
  }

  /** Abandons the fetches out; nothing is fetched afterwards. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    for (const controller of this.inFlight.values()) controller.abort();
    await Promise.allSettled([...this.done]);
  }

  private track(task: Promise<void>): void {
    this.done.add(task);
    const forget = () => {
      this.done.delete(task);
    };
    task.then(forget, forget);
  }

  private refreshMetadata(): void {
    if (this.refreshing) return;
    const waitMs = this.metadataRetryAtMs - Date.now();
    if (waitMs > 0) {
      // Partitions of unknown topics: ask again, but not in a loop.
      if (this.retryTimer === undefined) {
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.schedule();
        }, waitMs);
        this.retryTimer.unref();
      }
      return;
    }
    this.metadataFailures++;
    this.metadataRetryAtMs = Date.now() + backoffMs(this.metadataFailures, this.cluster.retry);
    this.refreshing = true;
    const topics = [...new Set([...this.target.partitions()].map((state) => state.topic))];
    this.track(
      this.cluster
        .refreshMetadata(topics)
        .catch((error: unknown) => {
          this.options.logger.log('debug', 'metadata refresh for fetching failed', {
            error: (error as Error).message,
          });
          for (const state of this.target.partitions()) {
            state.retryAtMs = Date.now() + backoffMs(++this.failures, this.cluster.retry);
          }
        })
        .finally(() => {
          this.refreshing = false;
          this.schedule();
        }),
    );
  }

  private async fetchFrom(
    leader: number,
    states: PartitionState[],
    maxBytes: number,
  ): Promise<void> {
    const controller = new AbortController();
    this.inFlight.set(leader, controller);
    this.reservedBytes += maxBytes;
    const fetching: Fetching[] = states.map((state) => {
      state.fetching = true;
      return {
        state,
        epoch: state.epoch,
        fetchOffset: state.fetchPosition!,
        leaderEpoch:
          this.cluster.cachedTopic(state.topic)?.partitions[state.partition]?.leaderEpoch ?? -1,
      };
    });
    try {
      const connection = await this.cluster.connection(leader);
      const byTopic = new Map<string, Fetching[]>();
      for (const entry of fetching) {
        addTo(byTopic, entry.state.topic, entry);
      }
      const topicIds = new Map<string, string>();
      for (const topic of byTopic.keys()) {
        topicIds.set(topic, this.cluster.cachedTopic(topic)?.topicId ?? ZERO_UUID);
      }
      const idsKnown = [...topicIds.values()].every((id) => id !== ZERO_UUID);
      const { response, version } = await connection.requestWithVersion(
        FetchRequest,
        FetchResponse,
        (v) => ({
          maxWaitMs: this.options.maxWaitMs,
          minBytes: this.options.minBytes,
          maxBytes,
          isolationLevel: this.options.isolationLevel,
          topics: [...byTopic].map(([topic, entries]) => ({
            ...(v > LAST_VERSION_WITH_NAMES ? { topicId: topicIds.get(topic)! } : { topic }),
            partitions: entries.map((entry) => ({
              partition: entry.state.partition,
              fetchOffset: entry.fetchOffset,
              partitionMaxBytes: this.options.maxPartitionBytes,
              ...(v >= 9 ? { currentLeaderEpoch: entry.leaderEpoch } : {}),
            })),
          })),
        }),
        {
          signal: controller.signal,
          timeoutMs: this.cluster.requestTimeoutMs + this.options.maxWaitMs,
          ...(idsKnown ? {} : { maxVersion: LAST_VERSION_WITH_NAMES }),
        },
      );
      if (this.stopped) return;
      if (version >= 7 && response.errorCode !== ErrorCode.NONE) {
        throw new KafkaProtocolError(response.errorCode, 'fetch');
      }
      const namesById = new Map([...topicIds].map(([name, id]) => [id, name]));
      let refresh = false;
      for (const topicResponse of response.responses) {
        const topic =
          version > LAST_VERSION_WITH_NAMES
            ? namesById.get(topicResponse.topicId)
            : topicResponse.topic;
        const entries = topic === undefined ? undefined : byTopic.get(topic);
        if (entries === undefined) continue;
        for (const data of topicResponse.partitions) {
          const entry = entries.find((e) => e.state.partition === data.partitionIndex);
          if (entry === undefined) continue;
          refresh = this.handlePartition(entry, data) || refresh;
        }
      }
      this.failures = 0;
      if (refresh) {
        this.cluster.invalidateMetadata();
        this.refreshMetadata();
      }
    } catch (error) {
      if (this.stopped || controller.signal.aborted) return;
      this.failures++;
      this.options.logger.log('debug', 'fetch failed', {
        broker: leader,
        error: (error as Error).message,
      });
      this.cluster.invalidateMetadata();
      const retryAt = Date.now() + backoffMs(this.failures, this.cluster.retry);
      for (const entry of fetching) entry.state.retryAtMs = retryAt;
    } finally {
      for (const entry of fetching) entry.state.fetching = false;
      this.inFlight.delete(leader);
      this.reservedBytes -= maxBytes;
      this.schedule();
    }
  }

  /** One partition's answer; true when metadata needs a refresh. */
  private handlePartition(
    entry: Fetching,
    data: ReturnType<typeof FetchResponse.decode>['responses'][number]['partitions'][number],
  ): boolean {
    const state = entry.state;
    // Revoked, re-assigned or moved by a seek while the fetch was out.
    if (!this.target.owns(state) || state.epoch !== entry.epoch) return false;
    if (data.errorCode === ErrorCode.NONE) {
      state.highWatermark = data.highWatermark;
      state.lastStableOffset = data.lastStableOffset;
      state.logStartOffset = data.logStartOffset;
      const blob = data.records;
      if (blob === null || blob.length === 0) return false;
      const records = new FetchedRecords({
        topic: state.topic,
        partition: state.partition,
        blob,
        fetchOffset: entry.fetchOffset,
        readCommitted: this.options.isolationLevel === 1,
        abortedTransactions: data.abortedTransactions,
        verifyCrc: this.options.verifyCrc,
      });
      if (!records.hasEntries) {
        state.error = new KafkaProtocolError(
          ErrorCode.RECORD_LIST_TOO_LARGE,
          `a record batch of ${state.topic}-${state.partition} at offset ${entry.fetchOffset} is larger than maxPartitionFetchBytes`,
        );
        this.target.onData();
        return false;
      }
      state.fetchPosition = records.endOffset;
      state.push(records);
      this.target.onData();
      return false;
    }
    if (data.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) {
      this.target.onOutOfRange(state);
      return false;
    }
    if (REFRESH_METADATA.has(data.errorCode)) {
      state.retryAtMs = Date.now() + backoffMs(1, this.cluster.retry);
      return true;
    }
    state.error = new KafkaProtocolError(
      data.errorCode,
      `fetching ${state.topic}-${state.partition}`,
    );
    this.target.onData();
    return false;
  }
}
