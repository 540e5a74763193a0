import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ApiKey,
  CreateTopicsRequest,
  CreateTopicsResponse,
  decodeRecordBatches,
  ErrorCode,
  encodeRecordBatch,
  FetchRequest,
  type FetchRequestInput,
  FetchResponse,
  ProduceRequest,
  ProduceResponse,
} from '@brook/protocol';
import {
  type CachedPartition,
  FetchSessionCache,
  INVALID_SESSION_ID,
  nextEpoch,
} from '../src/fetch/fetch-session-cache.ts';
import { RawClient, startTestBroker } from './helpers.ts';

type Fetched = Awaited<ReturnType<typeof fetchWith>>;

async function createTopic(client: RawClient, name: string, partitions: number) {
  const response = await client.request(
    ApiKey.CreateTopics,
    7,
    CreateTopicsRequest,
    CreateTopicsResponse,
    {
      topics: [
        { name, numPartitions: partitions, replicationFactor: 1, assignments: [], configs: [] },
      ],
      timeoutMs: 1000,
      validateOnly: false,
    },
  );
  assert.equal(response.topics[0]?.errorCode, ErrorCode.NONE);
  return response.topics[0]!.topicId;
}

async function produce(client: RawClient, topic: string, partition: number, values: string[]) {
  const response = await client.request(ApiKey.Produce, 9, ProduceRequest, ProduceResponse, {
    acks: 1,
    timeoutMs: 5000,
    topicData: [
      {
        name: topic,
        partitionData: [
          {
            index: partition,
            records: encodeRecordBatch({
              baseTimestamp: BigInt(Date.now()),
              records: values.map((value) => ({ key: null, value: Buffer.from(value) })),
            }),
          },
        ],
      },
    ],
  });
  assert.equal(response.responses[0]?.partitionResponses[0]?.errorCode, ErrorCode.NONE);
}

function fetchWith(client: RawClient, version: number, body: FetchRequestInput) {
  return client.request(ApiKey.Fetch, version, FetchRequest, FetchResponse, body);
}

/** A fetch of `topic` by name (v12): `partitions` maps index → fetch offset. */
function fetchByName(
  client: RawClient,
  session: { id: number; epoch: number },
  topic: string,
  partitions: Record<number, bigint>,
  options: {
    forget?: number[];
    maxWaitMs?: number;
    maxBytes?: number;
    partitionMaxBytes?: number;
  } = {},
) {
  const entries = Object.entries(partitions);
  return fetchWith(client, 12, {
    maxWaitMs: options.maxWaitMs ?? 0,
    minBytes: 1,
    maxBytes: options.maxBytes ?? 1 << 20,
    sessionId: session.id,
    sessionEpoch: session.epoch,
    topics:
      entries.length === 0
        ? []
        : [
            {
              topic,
              partitions: entries.map(([partition, fetchOffset]) => ({
                partition: Number(partition),
                fetchOffset,
                partitionMaxBytes: options.partitionMaxBytes ?? 1 << 20,
              })),
            },
          ],
    forgottenTopicsData: options.forget ? [{ topic, partitions: options.forget }] : [],
  });
}

/** partition → values of the records in the response. */
function summary(response: Fetched): Record<number, string[]> {
  const result: Record<number, string[]> = {};
  for (const topic of response.responses) {
    for (const partition of topic.partitions) {
      const records = partition.records;
      result[partition.partitionIndex] = records
        ? decodeRecordBatches(records).batches.flatMap((batch) =>
            batch.records.map((record) => record.value?.toString() ?? ''),
          )
        : [];
    }
  }
  return result;
}

describe('incremental fetch sessions (KIP-227)', () => {
  it('creates a session and answers incremental fetches with only the partitions that changed', async (t) => {
    const { port } = await startTestBroker(t);
    const client = await RawClient.connect(port);
    const producer = await RawClient.connect(port);
    t.after(() => {
      client.close();
      producer.close();
    });
    await createTopic(client, 'tracked', 3);
    await produce(producer, 'tracked', 0, ['a0']);
    await produce(producer, 'tracked', 1, ['b0']);

    const full = await fetchByName(client, { id: 0, epoch: 0 }, 'tracked', { 0: 0n, 1: 0n, 2: 0n });
    assert.equal(full.errorCode, ErrorCode.NONE);
    assert.notEqual(full.sessionId, INVALID_SESSION_ID);
    assert.deepEqual(summary(full), { 0: ['a0'], 1: ['b0'], 2: [] });
    const id = full.sessionId;

    // The client moves its offsets on; nothing else changed, so nothing comes back.
    const quiet = await fetchByName(client, { id, epoch: 1 }, 'tracked', { 0: 1n, 1: 1n });
    assert.equal(quiet.errorCode, ErrorCode.NONE);
    assert.equal(quiet.sessionId, id);
    assert.deepEqual(quiet.responses, []);

    // New data on partition 2 only: the session remembers all three partitions.
    await produce(producer, 'tracked', 2, ['c0', 'c1']);
    const changed = await fetchByName(client, { id, epoch: 2 }, 'tracked', {});
    assert.deepEqual(summary(changed), { 2: ['c0', 'c1'] });
    assert.equal(changed.responses[0]?.partitions[0]?.highWatermark, 2n);

    // Only the high watermark of partition 2 is news when the client has not moved on yet.
    const again = await fetchByName(client, { id, epoch: 3 }, 'tracked', {});
    assert.deepEqual(summary(again), { 2: ['c0', 'c1'] });
    const moved = await fetchByName(client, { id, epoch: 4 }, 'tracked', { 2: 2n });
    assert.deepEqual(moved.responses, []);

    // A long poll on the session wakes on an append and returns just that partition.
    const waiting = fetchByName(client, { id, epoch: 5 }, 'tracked', {}, { maxWaitMs: 10_000 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await produce(producer, 'tracked', 1, ['b1']);
    assert.deepEqual(summary(await waiting), { 1: ['b1'] });
  });

  it('removes forgotten partitions, closes an emptied session, and errs on unknown ids and wrong epochs', async (t) => {
    const { port } = await startTestBroker(t);
    const client = await RawClient.connect(port);
    t.after(() => client.close());
    await createTopic(client, 'forget', 2);
    const full = await fetchByName(client, { id: 0, epoch: 0 }, 'forget', { 0: 0n, 1: 0n });
    const id = full.sessionId;
    assert.notEqual(id, INVALID_SESSION_ID);

    const forgot = await fetchByName(client, { id, epoch: 1 }, 'forget', {}, { forget: [1] });
    assert.equal(forgot.errorCode, ErrorCode.NONE);
    await produce(client, 'forget', 1, ['ignored']);
    await produce(client, 'forget', 0, ['seen']);
    const afterForget = await fetchByName(client, { id, epoch: 2 }, 'forget', {});
    assert.deepEqual(summary(afterForget), { 0: ['seen'] });

    // A repeated epoch is refused (the request was already served).
    const stale = await fetchByName(client, { id, epoch: 2 }, 'forget', {});
    assert.equal(stale.errorCode, ErrorCode.INVALID_FETCH_SESSION_EPOCH);
    assert.equal(stale.sessionId, INVALID_SESSION_ID);
    assert.deepEqual(stale.responses, []);
    // The session survives a bad epoch.
    const ok = await fetchByName(client, { id, epoch: 3 }, 'forget', { 0: 1n });
    assert.equal(ok.errorCode, ErrorCode.NONE);

    const unknown = await fetchByName(client, { id: id + 1, epoch: 1 }, 'forget', {});
    assert.equal(unknown.errorCode, ErrorCode.FETCH_SESSION_ID_NOT_FOUND);
    assert.equal(unknown.sessionId, INVALID_SESSION_ID);

    // Forgetting the last partition closes the session: the answer has no session id.
    const emptied = await fetchByName(client, { id, epoch: 4 }, 'forget', {}, { forget: [0] });
    assert.equal(emptied.errorCode, ErrorCode.NONE);
    assert.equal(emptied.sessionId, INVALID_SESSION_ID);
    const gone = await fetchByName(client, { id, epoch: 5 }, 'forget', {});
    assert.equal(gone.errorCode, ErrorCode.FETCH_SESSION_ID_NOT_FOUND);
  });

  it('closes the named session on a full fetch; epoch -1 fetches without one', async (t) => {
    const { broker, port } = await startTestBroker(t);
    const client = await RawClient.connect(port);
    t.after(() => client.close());
    await createTopic(client, 'full', 1);
    const first = await fetchByName(client, { id: 0, epoch: 0 }, 'full', { 0: 0n });
    const second = await fetchByName(client, { id: first.sessionId, epoch: 0 }, 'full', { 0: 0n });
    assert.notEqual(second.sessionId, INVALID_SESSION_ID);
    assert.notEqual(second.sessionId, first.sessionId);
    const old = await fetchByName(client, { id: first.sessionId, epoch: 1 }, 'full', {});
    assert.equal(old.errorCode, ErrorCode.FETCH_SESSION_ID_NOT_FOUND);
    assert.equal(broker.context.fetchSessions.size, 1);

    const sessionless = await fetchByName(client, { id: second.sessionId, epoch: -1 }, 'full', {
      0: 0n,
    });
    assert.equal(sessionless.sessionId, INVALID_SESSION_ID);
    assert.deepEqual(summary(sessionless), { 0: [] });
    assert.equal(broker.context.fetchSessions.size, 0);

    // Before v7 there are no sessions at all.
    const v6 = await fetchWith(client, 6, {
      maxWaitMs: 0,
      minBytes: 1,
      topics: [
        { topic: 'full', partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 100 }] },
      ],
    });
    assert.equal(v6.responses[0]?.partitions[0]?.errorCode, ErrorCode.NONE);
    assert.equal(broker.context.fetchSessions.size, 0);
  });

  it('keeps sessions by topic id from v13, and refuses a version that does not match', async (t) => {
    const { port } = await startTestBroker(t);
    const client = await RawClient.connect(port);
    t.after(() => client.close());
    const topicId = await createTopic(client, 'by-id', 1);
    const unknownId = '11111111-2222-4333-8444-555555555555';
    const byId = (session: { id: number; epoch: number }, ids: string[]) =>
      fetchWith(client, 13, {
        maxWaitMs: 0,
        minBytes: 1,
        maxBytes: 1 << 20,
        sessionId: session.id,
        sessionEpoch: session.epoch,
        topics: ids.map((id) => ({
          topicId: id,
          partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1 << 20 }],
        })),
      });
    const full = await byId({ id: 0, epoch: 0 }, [topicId, unknownId]);
    assert.notEqual(full.sessionId, INVALID_SESSION_ID);
    assert.deepEqual(
      full.responses.map((topic) => [topic.topicId, topic.partitions[0]?.errorCode]),
      [
        [topicId, ErrorCode.NONE],
        [unknownId, ErrorCode.UNKNOWN_TOPIC_ID],
      ],
    );
    await produce(client, 'by-id', 0, ['x']);
    // Errors are always repeated; the known topic comes back because it has data.
    const next = await byId({ id: full.sessionId, epoch: 1 }, []);
    assert.deepEqual(
      next.responses.map((topic) => [topic.topicId, topic.partitions[0]?.errorCode]),
      [
        [topicId, ErrorCode.NONE],
        [unknownId, ErrorCode.UNKNOWN_TOPIC_ID],
      ],
    );
    // The same session through a version that names topics: FETCH_SESSION_TOPIC_ID_ERROR.
    const mixed = await fetchByName(client, { id: full.sessionId, epoch: 2 }, 'by-id', {});
    assert.equal(mixed.errorCode, ErrorCode.FETCH_SESSION_TOPIC_ID_ERROR);
    assert.equal(mixed.sessionId, INVALID_SESSION_ID);
  });

  it('rotates partitions that returned data to the end, so max_bytes serves the others next', async (t) => {
    const { port } = await startTestBroker(t);
    const client = await RawClient.connect(port);
    t.after(() => client.close());
    await createTopic(client, 'fair', 2);
    await produce(client, 'fair', 0, ['p0-'.padEnd(200, 'x')]);
    await produce(client, 'fair', 1, ['p1-'.padEnd(200, 'y')]);
    const full = await fetchByName(
      client,
      { id: 0, epoch: 0 },
      'fair',
      { 0: 0n, 1: 0n },
      {
        maxBytes: 10,
      },
    );
    // KIP-74: the first batch comes back although larger than max_bytes; nothing else fits.
    assert.deepEqual(summary(full), { 0: ['p0-'.padEnd(200, 'x')], 1: [] });
    // Partition 0 moved on; in the session (full fetches are not rotated) partition 0 is first.
    await produce(client, 'fair', 0, ['p0-again']);
    const second = await fetchByName(
      client,
      { id: full.sessionId, epoch: 1 },
      'fair',
      { 0: 1n },
      { maxBytes: 10 },
    );
    assert.deepEqual(summary(second), { 0: ['p0-again'] });
    // Partition 0 returned data, so it went last: partition 1 is read first now, and partition
    // 0 is left only its new high watermark.
    await produce(client, 'fair', 0, ['p0-third']);
    const third = await fetchByName(
      client,
      { id: full.sessionId, epoch: 2 },
      'fair',
      { 0: 2n },
      { maxBytes: 10 },
    );
    assert.deepEqual(
      third.responses[0]?.partitions.map((partition) => partition.partitionIndex),
      [1, 0],
    );
    assert.deepEqual(summary(third), { 1: ['p1-'.padEnd(200, 'y')], 0: [] });
    assert.equal(third.responses[0]?.partitions[1]?.highWatermark, 3n);
  });

  it('keeps partition_max_bytes as Kafka does while it reads the partitions at once', async (t) => {
    const { port } = await startTestBroker(t);
    const client = await RawClient.connect(port);
    t.after(() => client.close());
    await createTopic(client, 'limits', 3);
    const big = (tag: string) => tag.padEnd(300, '.');
    await produce(client, 'limits', 1, [big('p1')]);
    await produce(client, 'limits', 2, [big('p2')]);
    await produce(client, 'limits', 2, ['p2-small']);
    const sessionless = { id: INVALID_SESSION_ID, epoch: -1 };
    const offsets = { 0: 0n, 1: 0n, 2: 0n };
    // The response's max_bytes cannot bind (the partitions are read at the same time): the
    // first partition with data brings its first batch whole although over its limit (KIP-74);
    // the next one's first batch is over the limit too, so it brings nothing.
    const first = await fetchByName(client, sessionless, 'limits', offsets, {
      partitionMaxBytes: 100,
    });
    assert.deepEqual(summary(first), { 0: [], 1: [big('p1')], 2: [] });
    // Once partition 0 has a batch within its limit, it is the first with data, and neither
    // oversized batch comes back.
    await produce(client, 'limits', 0, ['p0']);
    const second = await fetchByName(client, sessionless, 'limits', offsets, {
      partitionMaxBytes: 100,
    });
    assert.deepEqual(summary(second), { 0: ['p0'], 1: [], 2: [] });
    // Read one after the other (max_bytes can bind), the same rules give the same answer.
    const bound = await fetchByName(client, sessionless, 'limits', offsets, {
      partitionMaxBytes: 100,
      maxBytes: 250,
    });
    assert.deepEqual(summary(bound), { 0: ['p0'], 1: [], 2: [] });
  });

  it('bounds the cache by max.incremental.fetch.session.cache.slots and evicts as Kafka does', async (t) => {
    const evictionMs = 1000;
    const { broker, port } = await startTestBroker(t, {
      properties: {
        'max.incremental.fetch.session.cache.slots': '2',
        'brook.incremental.fetch.session.eviction.ms': String(evictionMs),
      },
    });
    const client = await RawClient.connect(port);
    t.after(() => client.close());
    await createTopic(client, 'slots', 3);
    const open = async (partitions: Record<number, bigint>) =>
      (await fetchByName(client, { id: 0, epoch: 0 }, 'slots', partitions)).sessionId;
    const a = await open({ 0: 0n });
    const b = await open({ 1: 0n });
    assert.notEqual(a, INVALID_SESSION_ID);
    assert.notEqual(b, INVALID_SESSION_ID);
    // Full, and both sessions are new: no session for a third, whatever its size.
    assert.equal(await open({ 2: 0n }), INVALID_SESSION_ID);
    assert.equal(await open({ 0: 0n, 1: 0n, 2: 0n }), INVALID_SESSION_ID);
    assert.equal(broker.context.fetchSessions.size, 2);

    // Keep both in use until they are older than the eviction time.
    const epochs = new Map([
      [a, 1],
      [b, 1],
    ]);
    const use = async (id: number) => {
      const epoch = epochs.get(id)!;
      const response = await fetchByName(client, { id, epoch }, 'slots', {});
      assert.equal(response.errorCode, ErrorCode.NONE);
      epochs.set(id, nextEpoch(epoch));
    };
    await new Promise((resolve) => setTimeout(resolve, evictionMs * 0.6));
    await use(a);
    await use(b);
    await new Promise((resolve) => setTimeout(resolve, evictionMs * 0.5));
    await use(a);
    await use(b);
    // Old enough to be evicted, but only by a session with more partitions.
    assert.equal(await open({ 2: 0n }), INVALID_SESSION_ID);
    const c = await open({ 0: 0n, 2: 0n });
    assert.notEqual(c, INVALID_SESSION_ID);
    assert.equal(broker.context.fetchSessions.size, 2);
    assert.equal(broker.context.fetchSessions.evictions, 1);
    const errors = await Promise.all(
      [a, b].map(
        async (id) =>
          (await fetchByName(client, { id, epoch: epochs.get(id)! }, 'slots', {})).errorCode,
      ),
    );
    // The smaller id of the two equal sessions went (Kafka's (privileged, size, id) order).
    const evicted = Math.min(a, b);
    assert.deepEqual(
      errors,
      [a, b].map((id) => (id === evicted ? ErrorCode.FETCH_SESSION_ID_NOT_FOUND : ErrorCode.NONE)),
    );
  });
});

describe('FetchSessionCache', () => {
  const partitions = (count: number, prefix = 't'): CachedPartition[] =>
    Array.from({ length: count }, (_, index) => ({
      key: `${prefix}:${index}`,
      topicId: '00000000-0000-0000-0000-000000000000',
      topic: prefix,
      partition: index,
      fetchOffset: 0n,
      partitionMaxBytes: 100,
      highWatermark: -1n,
      lastStableOffset: -1n,
      logStartOffset: -1n,
    }));

  it('follows the epoch sequence of FetchMetadata', () => {
    assert.equal(nextEpoch(-1), -1);
    assert.equal(nextEpoch(0), 1);
    assert.equal(nextEpoch(41), 42);
    assert.equal(nextEpoch(0x7fffffff), 1);
  });

  it('evicts stale sessions, lets followers evict consumers, and bounds cached partitions', () => {
    let now = 0;
    const cache = new FetchSessionCache({
      maxSlots: 2,
      evictionMs: 100,
      maxPartitions: 10,
      clock: () => now,
    });
    const consumer1 = cache.maybeCreateSession(false, false, partitions(1));
    const consumer2 = cache.maybeCreateSession(false, false, partitions(3));
    assert.notEqual(consumer1, 0);
    assert.notEqual(consumer2, 0);
    assert.equal(cache.totalPartitions, 4);
    // A larger consumer session cannot evict sessions that are new.
    assert.equal(cache.maybeCreateSession(false, false, partitions(5)), 0);
    // A follower's session evicts the least valuable consumer session at once.
    const follower = cache.maybeCreateSession(true, false, partitions(1));
    assert.notEqual(follower, 0);
    assert.equal(cache.get(consumer1), undefined);
    assert.ok(cache.get(consumer2));
    // A consumer session evicts neither the new follower session nor a young consumer one.
    assert.equal(cache.maybeCreateSession(false, false, partitions(5)), 0);
    // Sessions unused for longer than the eviction time are removed.
    now = 150;
    const late = cache.maybeCreateSession(false, false, partitions(2));
    assert.notEqual(late, 0);
    assert.equal(cache.size, 1, 'both idle sessions were removed');
    assert.equal(cache.totalPartitions, 2);
    // More partitions than the bound allows: no session.
    assert.equal(cache.maybeCreateSession(false, false, partitions(9)), 0);
    assert.notEqual(cache.maybeCreateSession(false, false, partitions(8)), 0);
    assert.equal(cache.totalPartitions, 10);
  });

  it('closes a session that grows past the partition bound and serves the fetch without it', () => {
    const cache = new FetchSessionCache({ maxSlots: 5, evictionMs: 1000, maxPartitions: 3 });
    const id = cache.maybeCreateSession(false, false, partitions(2));
    const more = partitions(2, 'u').map((partition) => ({ ...partition }));
    const context = cache.newContext({
      version: 12,
      sessionId: id,
      epoch: 1,
      privileged: false,
      fetchData: more,
      forgotten: [],
    });
    assert.equal(context.kind, 'sessionless');
    assert.equal(context.kind === 'sessionless' ? context.partitions.length : -1, 2);
    assert.equal(cache.size, 0);
    assert.equal(cache.totalPartitions, 0);
  });
});
