/**
 * Incremental fetch sessions (KIP-227), as Kafka's FetchSession.scala keeps them.
 *
 * A fetch names its session by id and epoch:
 * - epoch -1 (FINAL): a full fetch without a session (any session it names is closed first).
 *   Every request before v7 is one, since its fields default to id 0, epoch -1.
 * - epoch 0 (INITIAL): a full fetch that asks for a new session (closing any it names). The
 *   response carries the new session's id, or 0 when the cache has no room.
 * - epoch > 0: an incremental fetch of an existing session at that epoch. Its topics add or
 *   update partitions, `forgotten_topics_data` removes them, and the fetch reads every partition
 *   of the session; the response holds only partitions with something new (records, a changed
 *   high watermark, last stable offset or log start offset, an error). An unknown id gets
 *   FETCH_SESSION_ID_NOT_FOUND, a wrong epoch INVALID_FETCH_SESSION_EPOCH, and a version whose
 *   use of topic ids (v13+) differs from the session's FETCH_SESSION_TOPIC_ID_ERROR; each with
 *   session id 0 and no partitions. A session left with no partitions is closed and the fetch
 *   answered without one. A session's epoch moves on when a fetch is accepted; when the response
 *   is ready the epoch must still be the one that fetch set, else it gets
 *   INVALID_FETCH_SESSION_EPOCH (a duplicate raced it).
 *
 * Bounds: at most `max.incremental.fetch.session.cache.slots` sessions. A full cache makes room
 * as Kafka's `tryEvict` does: a new session may evict the least valuable evictable one, ordered
 * by (privileged, partition count, id): a privileged (follower) session may evict any consumer
 * session, and any session may evict one with fewer partitions that was created more than the
 * eviction time before its last use. Sessions unused for the eviction time are removed whenever
 * the cache is used (Kafka keeps them until space is needed; they are the first it evicts).
 * Brook also bounds the partitions cached over all sessions: a session that would pass the bound
 * is not created, or is closed (its fetch answered without a session). Unlike Kafka, one cache
 * serves the broker (Kafka shards it by session id across its request threads).
 */
import { randomInt } from 'node:crypto';
import { ErrorCode } from '@brook/protocol';

/** Session id 0: no session. */
export const INVALID_SESSION_ID = 0;
/** Epoch of a full fetch that asks for a session. */
export const INITIAL_EPOCH = 0;
/** Epoch of a full fetch without a session. */
export const FINAL_EPOCH = -1;
const MAX_INT32 = 0x7fffffff;

/** The epoch after `epoch`, as Kafka's FetchMetadata.nextEpoch: 1 follows the largest int32. */
export function nextEpoch(epoch: number): number {
  if (epoch < 0) return FINAL_EPOCH;
  if (epoch === MAX_INT32) return 1;
  return epoch + 1;
}

/** The key of a partition within a session: by topic id (v13+) or by topic name. */
export function sessionPartitionKey(topicIdOrName: string, partition: number): string {
  // A partition index has no ':', so the last ':' splits the key unambiguously.
  return `${topicIdOrName}:${partition}`;
}

/** One partition a fetch names: what to read, as the request gave it. */
export interface FetchPartitionRequest {
  readonly key: string;
  /** The topic id (v13+), or the zero id. */
  readonly topicId: string;
  /** The topic name; undefined for an id that does not resolve. */
  readonly topic: string | undefined;
  readonly partition: number;
  readonly fetchOffset: bigint;
  readonly partitionMaxBytes: number;
}

/**
 * A partition of a fetch: the request parameters the client last sent and, in a session, the
 * response state it was last told (-1 when it has not been told anything yet).
 */
export interface CachedPartition {
  readonly key: string;
  readonly topicId: string;
  /** Resolved again on each read for sessions by topic id. */
  topic: string | undefined;
  readonly partition: number;
  fetchOffset: bigint;
  partitionMaxBytes: number;
  highWatermark: bigint;
  lastStableOffset: bigint;
  logStartOffset: bigint;
}

/** What a response says of a partition, as far as the session compares it. */
export interface PartitionResponseState {
  readonly partition: CachedPartition;
  readonly errorCode: number;
  readonly highWatermark: bigint;
  readonly lastStableOffset: bigint;
  readonly logStartOffset: bigint;
  readonly records: Uint8Array;
}

function newCachedPartition(request: FetchPartitionRequest): CachedPartition {
  return {
    key: request.key,
    topicId: request.topicId,
    topic: request.topic,
    partition: request.partition,
    fetchOffset: request.fetchOffset,
    partitionMaxBytes: request.partitionMaxBytes,
    highWatermark: -1n,
    lastStableOffset: -1n,
    logStartOffset: -1n,
  };
}

/**
 * Whether a partition must appear in an incremental response (Kafka's maybeUpdateResponseData),
 * recording what the client is told when `update`. An error also forgets the high watermark,
 * so the partition is sent again once the error clears. Brook compares the last stable offset
 * too (Kafka does not: there it moves only with the high watermark).
 */
export function mustRespond(
  cached: CachedPartition,
  response: PartitionResponseState,
  update: boolean,
): boolean {
  let must = response.records.length > 0;
  if (cached.highWatermark !== response.highWatermark) {
    must = true;
    if (update) cached.highWatermark = response.highWatermark;
  }
  if (cached.lastStableOffset !== response.lastStableOffset) {
    must = true;
    if (update) cached.lastStableOffset = response.lastStableOffset;
  }
  if (cached.logStartOffset !== response.logStartOffset) {
    must = true;
    if (update) cached.logStartOffset = response.logStartOffset;
  }
  if (response.errorCode !== ErrorCode.NONE) {
    must = true;
    if (update) cached.highWatermark = -1n;
  }
  return must;
}

export class FetchSession {
  readonly id: number;
  /** Sessions of followers are privileged; those of consumers are not. */
  readonly privileged: boolean;
  readonly usesTopicIds: boolean;
  readonly creationMs: number;
  lastUsedMs: number;
  /** The epoch the next incremental fetch must carry. */
  epoch: number;
  /** The partitions, in fetch order (those that returned records move to the end). */
  readonly partitions = new Map<string, CachedPartition>();
  /** The partition count as of the last touch (what eviction compares); -1 outside the cache. */
  cachedSize = -1;
  /** Kafka's evictableByAll / evictableByPrivileged membership, decided at each touch. */
  evictableByAll = false;
  evictableByPrivileged = false;

  constructor(options: {
    id: number;
    privileged: boolean;
    usesTopicIds: boolean;
    nowMs: number;
    partitions: Iterable<CachedPartition>;
  }) {
    this.id = options.id;
    this.privileged = options.privileged;
    this.usesTopicIds = options.usesTopicIds;
    this.creationMs = options.nowMs;
    this.lastUsedMs = options.nowMs;
    this.epoch = nextEpoch(INITIAL_EPOCH);
    for (const partition of options.partitions) this.partitions.set(partition.key, partition);
  }

  /** Adds or updates the partitions of an incremental fetch, then removes the forgotten ones. */
  update(
    fetchData: readonly FetchPartitionRequest[],
    forgotten: readonly string[],
  ): { added: number; updated: number; removed: number } {
    let added = 0;
    let updated = 0;
    let removed = 0;
    for (const request of fetchData) {
      const cached = this.partitions.get(request.key);
      if (cached === undefined) {
        this.partitions.set(request.key, newCachedPartition(request));
        added++;
      } else {
        cached.fetchOffset = request.fetchOffset;
        cached.partitionMaxBytes = request.partitionMaxBytes;
        if (request.topic !== undefined) cached.topic = request.topic;
        updated++;
      }
    }
    for (const key of forgotten) if (this.partitions.delete(key)) removed++;
    return { added, updated, removed };
  }

  /** Moves a partition to the end of the fetch order, so the others get the byte limits first. */
  rotateToEnd(key: string): void {
    const partition = this.partitions.get(key);
    if (partition === undefined) return;
    this.partitions.delete(key);
    this.partitions.set(key, partition);
  }
}

/** How a fetch is served, decided from its session fields before anything is read. */
export type FetchContext =
  | { readonly kind: 'error'; readonly errorCode: number }
  | { readonly kind: 'sessionless'; readonly partitions: readonly CachedPartition[] }
  | {
      readonly kind: 'full';
      readonly partitions: readonly CachedPartition[];
      readonly privileged: boolean;
      readonly usesTopicIds: boolean;
    }
  | {
      readonly kind: 'incremental';
      readonly partitions: readonly CachedPartition[];
      readonly session: FetchSession;
      readonly requestEpoch: number;
    };

export interface FetchSessionCacheOptions {
  /** `max.incremental.fetch.session.cache.slots`: the most sessions kept at once. */
  readonly maxSlots: number;
  /** Kafka's minimum eviction time: unused this long, a session is stale (and removed). */
  readonly evictionMs: number;
  /** The most partitions cached over all sessions. */
  readonly maxPartitions: number;
  /** Milliseconds on a monotonic clock; `performance.now` by default. */
  readonly clock?: () => number;
}

export class FetchSessionCache {
  private readonly maxSlots: number;
  private readonly evictionMs: number;
  private readonly maxPartitions: number;
  private readonly clock: () => number;
  /** Every session, least recently used first (a touch moves a session to the end). */
  private readonly sessions = new Map<number, FetchSession>();
  private partitionCount = 0;
  /** Sessions evicted to make room, or removed as stale (a metric). */
  evictions = 0;

  constructor(options: FetchSessionCacheOptions) {
    this.maxSlots = options.maxSlots;
    this.evictionMs = options.evictionMs;
    this.maxPartitions = options.maxPartitions;
    this.clock = options.clock ?? (() => performance.now());
  }

  /** Sessions in the cache. */
  get size(): number {
    return this.sessions.size;
  }

  /** Partitions cached over all sessions (as of their last use). */
  get totalPartitions(): number {
    return this.partitionCount;
  }

  get(sessionId: number): FetchSession | undefined {
    this.expireIdle(this.clock());
    return this.sessions.get(sessionId);
  }

  /**
   * Kafka's FetchManager.newContext: closes, checks and updates sessions as the request's
   * session fields say. `fetchData` is the request's partitions (deduplicated, in order),
   * `forgotten` the keys of `forgotten_topics_data`.
   */
  newContext(request: {
    version: number;
    sessionId: number;
    epoch: number;
    privileged: boolean;
    fetchData: readonly FetchPartitionRequest[];
    forgotten: readonly string[];
  }): FetchContext {
    const now = this.clock();
    this.expireIdle(now);
    const usesTopicIds = request.version >= 13;
    if (request.epoch === INITIAL_EPOCH || request.epoch === FINAL_EPOCH) {
      if (request.sessionId !== INVALID_SESSION_ID) this.remove(request.sessionId);
      const partitions = request.fetchData.map(newCachedPartition);
      if (request.epoch === FINAL_EPOCH) return { kind: 'sessionless', partitions };
      return { kind: 'full', partitions, privileged: request.privileged, usesTopicIds };
    }
    const session = this.sessions.get(request.sessionId);
    if (session === undefined) {
      return { kind: 'error', errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND };
    }
    if (session.epoch !== request.epoch) {
      return { kind: 'error', errorCode: ErrorCode.INVALID_FETCH_SESSION_EPOCH };
    }
    if (session.usesTopicIds !== usesTopicIds) {
      return { kind: 'error', errorCode: ErrorCode.FETCH_SESSION_TOPIC_ID_ERROR };
    }
    session.update(request.fetchData, request.forgotten);
    const grown = session.partitions.size - Math.max(session.cachedSize, 0);
    if (session.partitions.size === 0 || this.partitionCount + grown > this.maxPartitions) {
      this.remove(session);
      return { kind: 'sessionless', partitions: request.fetchData.map(newCachedPartition) };
    }
    this.touch(session, now);
    session.epoch = nextEpoch(session.epoch);
    return {
      kind: 'incremental',
      partitions: [...session.partitions.values()],
      session,
      requestEpoch: request.epoch,
    };
  }

  /**
   * Ends a full fetch: tries to keep its partitions, with what the response tells of them, as
   * a new session. Returns the session id for the response, 0 when none was created.
   */
  completeFull(
    context: Extract<FetchContext, { kind: 'full' }>,
    responses: readonly PartitionResponseState[],
  ): number {
    for (const response of responses) {
      const cached = response.partition;
      cached.highWatermark = response.highWatermark;
      cached.lastStableOffset = response.lastStableOffset;
      cached.logStartOffset = response.logStartOffset;
    }
    return this.maybeCreateSession(context.privileged, context.usesTopicIds, context.partitions);
  }

  /**
   * Ends an incremental fetch: keeps the partitions the client must hear about (and records what
   * it is told), or INVALID_FETCH_SESSION_EPOCH when another fetch moved the epoch meanwhile.
   */
  completeIncremental<R extends PartitionResponseState>(
    context: Extract<FetchContext, { kind: 'incremental' }>,
    responses: readonly R[],
  ): { errorCode: number; sessionId: number; responses: R[] } {
    const session = context.session;
    if (session.epoch !== nextEpoch(context.requestEpoch)) {
      return {
        errorCode: ErrorCode.INVALID_FETCH_SESSION_EPOCH,
        sessionId: session.id,
        responses: [],
      };
    }
    const kept: R[] = [];
    for (const response of responses) {
      if (!mustRespond(response.partition, response, true)) continue;
      kept.push(response);
      if (response.records.length > 0) session.rotateToEnd(response.partition.key);
    }
    return { errorCode: ErrorCode.NONE, sessionId: session.id, responses: kept };
  }

  /** Creates a session when there is room (evicting one if Kafka's rules allow); its id or 0. */
  maybeCreateSession(
    privileged: boolean,
    usesTopicIds: boolean,
    partitions: readonly CachedPartition[],
  ): number {
    const now = this.clock();
    this.expireIdle(now);
    if (this.partitionCount + partitions.length > this.maxPartitions) return INVALID_SESSION_ID;
    if (this.sessions.size >= this.maxSlots && !this.tryEvict(privileged, partitions.length)) {
      return INVALID_SESSION_ID;
    }
    const session = new FetchSession({
      id: this.newSessionId(),
      privileged,
      usesTopicIds,
      nowMs: now,
      partitions,
    });
    this.sessions.set(session.id, session);
    this.touch(session, now);
    return session.id;
  }

  /** Removes a session (by id or itself); whether it was in the cache. */
  remove(session: number | FetchSession): boolean {
    const id = typeof session === 'number' ? session : session.id;
    const cached = this.sessions.get(id);
    if (cached === undefined || (typeof session !== 'number' && cached !== session)) return false;
    this.sessions.delete(id);
    this.partitionCount -= Math.max(cached.cachedSize, 0);
    cached.cachedSize = -1;
    return true;
  }

  /** Marks a session used now: last in the LRU order, its size and evictability recomputed. */
  private touch(session: FetchSession, now: number): void {
    if (this.sessions.get(session.id) !== session) return;
    this.sessions.delete(session.id);
    this.sessions.set(session.id, session);
    session.lastUsedMs = now;
    this.partitionCount += session.partitions.size - Math.max(session.cachedSize, 0);
    session.cachedSize = session.partitions.size;
    const old = now - session.creationMs > this.evictionMs;
    session.evictableByPrivileged = !session.privileged || old;
    session.evictableByAll = old;
  }

  /** Removes the sessions unused for longer than the eviction time (oldest first). */
  private expireIdle(now: number): void {
    for (const session of this.sessions.values()) {
      if (now - session.lastUsedMs <= this.evictionMs) return;
      this.remove(session);
      this.evictions++;
    }
  }

  /**
   * Kafka's tryEvict, after stale sessions are gone: the least valuable session this one may
   * evict, by (privileged, size, id), goes if it is worth no more than the new one.
   */
  private tryEvict(privileged: boolean, size: number): boolean {
    let victim: FetchSession | undefined;
    for (const session of this.sessions.values()) {
      if (!(privileged ? session.evictableByPrivileged : session.evictableByAll)) continue;
      if (victim === undefined || compareEvictable(session, victim) < 0) victim = session;
    }
    if (victim === undefined) return false;
    const candidate = { privileged, cachedSize: size, id: 0 };
    if (compareEvictable(candidate, victim) < 0) return false;
    this.remove(victim);
    this.evictions++;
    return true;
  }

  private newSessionId(): number {
    for (;;) {
      const id = randomInt(1, MAX_INT32);
      if (!this.sessions.has(id)) return id;
    }
  }
}

function compareEvictable(
  a: { privileged: boolean; cachedSize: number; id: number },
  b: { privileged: boolean; cachedSize: number; id: number },
): number {
  if (a.privileged !== b.privileged) return a.privileged ? 1 : -1;
  if (a.cachedSize !== b.cachedSize) return a.cachedSize - b.cachedSize;
  return a.id - b.id;
}
