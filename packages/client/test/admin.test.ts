/**
 * The admin client against a Brook broker: topics, partitions, configs, groups, group offsets
 * with lag, offset resets, records and offsets of partitions, the cluster; success and error
 * paths. Groups get members through the raw protocol (JoinGroup/SyncGroup), records through raw
 * Produce requests. Retries are checked through a proxy in front of the broker that answers
 * chosen requests with an error before letting them through.
 */
import assert from 'node:assert/strict';
import { createServer, type Socket, connect as tcpConnect } from 'node:net';
import { describe, it } from 'node:test';
import {
  ApiKey,
  ConsumerProtocolAssignment,
  ConsumerProtocolSubscription,
  ErrorCode,
  encodeRecordBatch,
  FrameDecoder,
  JoinGroupRequest,
  JoinGroupResponse,
  LeaveGroupRequest,
  LeaveGroupResponse,
  type MessageCodec,
  ProduceRequest,
  ProduceResponse,
  readRequestFrame,
  SyncGroupRequest,
  SyncGroupResponse,
  Writer,
  writeResponseFrame,
} from '@brook/protocol';
import {
  AbortedError,
  Admin,
  Connection,
  KafkaProtocolError,
  type LogLevel,
  RetriesExhaustedError,
  silentLogger,
} from '../src/index.ts';
import { startBroker } from './helpers.ts';

const FAST_RETRY = { initialBackoffMs: 5, maxBackoffMs: 20 };

function newAdmin(t: { after(fn: () => Promise<void>): void }, bootstrap: string, retries = 10) {
  const admin = new Admin({
    bootstrapServers: [bootstrap],
    retry: { ...FAST_RETRY, retries },
  });
  t.after(() => admin.close());
  return admin;
}

async function rawConnection(t: { after(fn: () => void): void }, port: number) {
  const connection = await Connection.connect({
    host: '127.0.0.1',
    port,
    clientId: 'admin-test',
    logger: silentLogger,
  });
  t.after(() => connection.close());
  return connection;
}

function assertKafkaError(error: unknown, errorCode: number, named?: string): void {
  assert.ok(error instanceof KafkaProtocolError, `expected a KafkaProtocolError, got ${error}`);
  assert.equal(error.errorCode, errorCode, error.message);
  if (named !== undefined) assert.ok(error.message.includes(named), error.message);
}

/** Produces `count` records to a partition; record i has timestamp `baseTimestamp + i`. */
async function produce(
  connection: Connection,
  topic: string,
  partition: number,
  count: number,
  baseTimestamp = Date.now(),
): Promise<void> {
  const records = encodeRecordBatch({
    baseTimestamp: BigInt(baseTimestamp),
    records: Array.from({ length: count }, (_, i) => ({
      timestampDelta: i,
      key: null,
      value: Buffer.from(`record-${i}`),
    })),
  });
  const response = await connection.request(ProduceRequest, ProduceResponse, {
    acks: -1,
    timeoutMs: 5_000,
    topicData: [{ name: topic, partitionData: [{ index: partition, records }] }],
  });
  assert.equal(response.responses[0]?.partitionResponses[0]?.errorCode, ErrorCode.NONE);
}

function versioned<Input>(codec: MessageCodec<unknown, Input>, value: Input): Buffer {
  const writer = new Writer();
  writer.writeInt16(0);
  codec.write(writer, value, 0);
  return writer.toBuffer();
}

/** A consumer-protocol member of a group, joined and synced with `assigned`; `leave()` ends it. */
async function joinAsMember(
  connection: Connection,
  groupId: string,
  topics: readonly string[],
  assigned: { topic: string; partitions: number[] }[],
) {
  const join = (memberId: string) =>
    connection.request(JoinGroupRequest, JoinGroupResponse, {
      groupId,
      sessionTimeoutMs: 60_000,
      rebalanceTimeoutMs: 5_000,
      memberId,
      protocolType: 'consumer',
      protocols: [{ name: 'range', metadata: versioned(ConsumerProtocolSubscription, { topics }) }],
    });
  let joined = await join('');
  if (joined.errorCode === ErrorCode.MEMBER_ID_REQUIRED) joined = await join(joined.memberId);
  assert.equal(joined.errorCode, ErrorCode.NONE);
  const synced = await connection.request(SyncGroupRequest, SyncGroupResponse, {
    groupId,
    generationId: joined.generationId,
    memberId: joined.memberId,
    assignments: [
      {
        memberId: joined.memberId,
        assignment: versioned(ConsumerProtocolAssignment, { assignedPartitions: assigned }),
      },
    ],
  });
  assert.equal(synced.errorCode, ErrorCode.NONE);
  return {
    memberId: joined.memberId,
    async leave() {
      const { response } = await connection.requestWithVersion(
        LeaveGroupRequest,
        LeaveGroupResponse,
        (v) =>
          v >= 3
            ? { groupId, members: [{ memberId: joined.memberId }] }
            : { groupId, memberId: joined.memberId },
      );
      assert.equal(response.errorCode, ErrorCode.NONE);
    },
  };
}

/**
 * A proxy in front of a broker that advertises the proxy's port. `inject` may answer a request
 * itself with an error (the API's error response); everything else goes through. Responses
 * leave in request order. `seen` counts requests by api key.
 */
async function startProxy(t: { after(fn: () => Promise<void>): void }) {
  const sockets = new Set<Socket>();
  const seen = new Map<number, number>();
  const proxy = {
    upstreamPort: 0,
    seen,
    inject: (_apiKey: number, _count: number): number | undefined => undefined,
    port: 0,
  };
  const server = createServer((client) => {
    sockets.add(client);
    const upstream = tcpConnect({ host: '127.0.0.1', port: proxy.upstreamPort });
    sockets.add(upstream);
    /** One slot per request, in order: a buffer when answered, or waiting for upstream. */
    const slots: { bytes: Buffer | undefined; forwarded: boolean }[] = [];
    const flush = () => {
      while (slots[0]?.bytes !== undefined) client.write(slots.shift()!.bytes!);
    };
    const fromClient = new FrameDecoder({ maxFrameBytes: 1 << 26 });
    const fromBroker = new FrameDecoder({ maxFrameBytes: 1 << 26 });
    client.on('data', (chunk) => {
      for (const frame of fromClient.push(chunk)) {
        const { header, api, body } = readRequestFrame(frame);
        const apiKey = header.requestApiKey;
        const count = (seen.get(apiKey) ?? 0) + 1;
        seen.set(apiKey, count);
        const errorCode = proxy.inject(apiKey, count);
        if (errorCode === undefined || api === undefined) {
          slots.push({ bytes: undefined, forwarded: true });
          const size = Buffer.alloc(4);
          size.writeInt32BE(frame.length);
          upstream.write(Buffer.concat([size, frame]));
          continue;
        }
        const version = header.requestApiVersion;
        const request = api.request.decode(body, version);
        const writer = new Writer();
        writeResponseFrame(
          writer,
          { apiKey, apiVersion: version, correlationId: header.correlationId },
          (w) =>
            api.response.write(
              w,
              api.errorResponse(request, version, errorCode, 'injected'),
              version,
            ),
        );
        slots.push({ bytes: writer.toBuffer(), forwarded: false });
        flush();
      }
    });
    upstream.on('data', (chunk) => {
      for (const frame of fromBroker.push(chunk)) {
        const slot = slots.find((s) => s.forwarded && s.bytes === undefined);
        const size = Buffer.alloc(4);
        size.writeInt32BE(frame.length);
        if (slot) slot.bytes = Buffer.concat([size, frame]);
      }
      flush();
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.port = (server.address() as { port: number }).port;
  t.after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return proxy;
}

describe('admin', () => {
  it('creates, lists, describes, grows and deletes topics', async (t) => {
    const { bootstrap } = await startBroker(t);
    const admin = newAdmin(t, bootstrap);

    const created = await admin.createTopics([
      { name: 'orders', partitions: 3, configs: { 'retention.ms': '3600000' } },
      { name: 'payments' },
    ]);
    assert.deepEqual(
      created.map((c) => [c.name, c.error, c.partitions]),
      [
        ['orders', null, 3],
        ['payments', null, 1],
      ],
    );
    assert.match(created[0]!.topicId ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(created[0]!.configs?.find((c) => c.name === 'retention.ms')?.value, '3600000');
    assert.equal(
      created[0]!.configs?.find((c) => c.name === 'retention.ms')?.source,
      'dynamic-topic',
    );

    // The existing one fails, the new one is created: errors are per topic.
    const again = await admin.createTopics([{ name: 'orders', partitions: 1 }, { name: 'audit' }]);
    assertKafkaError(again[0]!.error, ErrorCode.TOPIC_ALREADY_EXISTS, 'topic orders');
    assert.equal(again[1]!.error, null);

    const invalid = await admin.createTopics([
      { name: 'bad-config', configs: { 'retention.ms': 'soon' } },
      { name: 'bad name!' },
    ]);
    assertKafkaError(invalid[0]!.error, ErrorCode.INVALID_CONFIG, 'topic bad-config');
    assertKafkaError(invalid[1]!.error, ErrorCode.INVALID_TOPIC_EXCEPTION, 'topic bad name!');

    const checked = await admin.createTopics([{ name: 'dry', partitions: 2 }], {
      validateOnly: true,
    });
    assert.equal(checked[0]!.error, null);
    assert.deepEqual(
      (await admin.listTopics()).map((t) => [t.name, t.partitions, t.isInternal]),
      [
        ['audit', 1, false],
        ['orders', 3, false],
        ['payments', 1, false],
      ],
    );

    const [orders, missing] = await admin.describeTopics(['orders', 'missing']);
    assert.equal(orders!.error, null);
    assert.deepEqual(
      orders!.partitions.map((p) => [p.partition, p.leader, p.replicas, p.isr]),
      [
        [0, 1, [1], [1]],
        [1, 1, [1], [1]],
        [2, 1, [1], [1]],
      ],
    );
    assert.equal(orders!.topicId, created[0]!.topicId);
    assertKafkaError(missing!.error, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'topic missing');

    const grown = await admin.createPartitions([
      { topic: 'orders', count: 5 },
      { topic: 'payments', count: 1 },
      { topic: 'missing', count: 2 },
    ]);
    assert.equal(grown[0]!.error, null);
    assertKafkaError(grown[1]!.error, ErrorCode.INVALID_PARTITIONS, 'topic payments');
    assertKafkaError(grown[2]!.error, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'topic missing');
    const [regrown] = await admin.describeTopics(['orders']);
    assert.equal(regrown!.partitions.length, 5);
    // The new partitions are usable at once: their leaders are known after the change.
    const [end] = await admin.listOffsets([{ topic: 'orders', partition: 4, spec: 'latest' }]);
    assert.equal(end!.error, null);
    assert.equal(end!.offset, 0n);

    const deleted = await admin.deleteTopics(['payments', 'missing']);
    assert.equal(deleted[0]!.error, null);
    assert.match(deleted[0]!.topicId ?? '', /^[0-9a-f-]{36}$/);
    assertKafkaError(deleted[1]!.error, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'topic missing');
    assert.deepEqual(
      (await admin.listTopics()).map((t) => t.name),
      ['audit', 'orders'],
    );
  });

  it('describes configs and alters them incrementally', async (t) => {
    const { bootstrap } = await startBroker(t);
    const admin = newAdmin(t, bootstrap);
    await admin.createTopics([{ name: 'events', configs: { 'cleanup.policy': 'delete' } }]);

    const [topic, broker, unknown, absent] = await admin.describeConfigs(
      [
        { type: 'topic', name: 'events', keys: ['retention.ms', 'cleanup.policy'] },
        { type: 'broker', name: '1' },
        { type: 'topic', name: 'nope' },
        { type: 'broker', name: '7' },
      ],
      { includeSynonyms: true, includeDocumentation: true },
    );
    assert.equal(topic!.error, null);
    assert.deepEqual(topic!.configs.map((c) => c.name).sort(), ['cleanup.policy', 'retention.ms']);
    const retention = topic!.configs.find((c) => c.name === 'retention.ms')!;
    assert.equal(retention.value, '604800000');
    assert.equal(retention.isDefault, true);
    assert.equal(retention.source, 'default');
    assert.equal(retention.type, 'long');
    assert.equal(typeof retention.documentation, 'string');
    const policy = topic!.configs.find((c) => c.name === 'cleanup.policy')!;
    assert.equal(policy.source, 'dynamic-topic');
    assert.equal(broker!.error, null);
    assert.ok(broker!.configs.some((c) => c.name === 'num.partitions'));
    assertKafkaError(unknown!.error, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'topic nope');
    assertKafkaError(absent!.error, ErrorCode.BROKER_NOT_AVAILABLE, 'broker 7');

    const altered = await admin.incrementalAlterConfigs([
      {
        type: 'topic',
        name: 'events',
        configs: [
          { name: 'retention.ms', operation: 'set', value: '1000' },
          { name: 'cleanup.policy', operation: 'append', value: 'compact' },
        ],
      },
      {
        type: 'topic',
        name: 'nope',
        configs: [{ name: 'retention.ms', operation: 'set', value: '1' }],
      },
    ]);
    assert.equal(altered[0]!.error, null);
    assertKafkaError(altered[1]!.error, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'topic nope');
    const [after] = await admin.describeConfigs(
      [{ type: 'topic', name: 'events', keys: ['retention.ms', 'cleanup.policy'] }],
      { includeSynonyms: true },
    );
    const value = (name: string) => after!.configs.find((c) => c.name === name);
    assert.equal(value('retention.ms')?.value, '1000');
    assert.equal(value('retention.ms')?.source, 'dynamic-topic');
    assert.deepEqual(value('retention.ms')?.synonyms[0], {
      name: 'retention.ms',
      value: '1000',
      source: 'dynamic-topic',
    });
    assert.equal(value('cleanup.policy')?.value, 'delete,compact');

    const [bad] = await admin.incrementalAlterConfigs([
      {
        type: 'topic',
        name: 'events',
        configs: [{ name: 'retention.ms', operation: 'set', value: 'forever' }],
      },
    ]);
    assertKafkaError(bad!.error, ErrorCode.INVALID_CONFIG, 'topic events');

    // Validate-only changes nothing; delete goes back to the default.
    await admin.incrementalAlterConfigs(
      [
        {
          type: 'topic',
          name: 'events',
          configs: [{ name: 'retention.ms', operation: 'set', value: '5' }],
        },
      ],
      { validateOnly: true },
    );
    const [unchanged] = await admin.describeConfigs([
      { type: 'topic', name: 'events', keys: ['retention.ms'] },
    ]);
    assert.equal(unchanged!.configs[0]?.value, '1000');
    await admin.incrementalAlterConfigs([
      { type: 'topic', name: 'events', configs: [{ name: 'retention.ms', operation: 'delete' }] },
    ]);
    const [reverted] = await admin.describeConfigs([
      { type: 'topic', name: 'events', keys: ['retention.ms'] },
    ]);
    assert.equal(reverted!.configs[0]?.value, '604800000');
    assert.equal(reverted!.configs[0]?.source, 'default');
  });

  it('lists offsets and deletes records at the partition leaders', async (t) => {
    const { bootstrap, port } = await startBroker(t);
    const admin = newAdmin(t, bootstrap);
    const connection = await rawConnection(t, port);
    await admin.createTopics([{ name: 'clicks', partitions: 2 }]);
    const base = Date.now() - 60_000;
    await produce(connection, 'clicks', 0, 10, base);
    await produce(connection, 'clicks', 1, 3, base);

    const listed = await admin.listOffsets([
      { topic: 'clicks', partition: 0, spec: 'earliest' },
      { topic: 'clicks', partition: 0, spec: 'latest' },
      { topic: 'clicks', partition: 1, spec: 'latest' },
      { topic: 'clicks', partition: 0, spec: { timestamp: base + 4 } },
      { topic: 'clicks', partition: 0, spec: { timestamp: new Date(base + 60_000) } },
      { topic: 'clicks', partition: 0, spec: 'max-timestamp' },
      { topic: 'clicks', partition: 7, spec: 'latest' },
      { topic: 'nowhere', partition: 0, spec: 'latest' },
    ]);
    assert.deepEqual(
      listed.slice(0, 6).map((l) => [l.offset, l.error]),
      [
        [0n, null],
        [10n, null],
        [3n, null],
        [4n, null],
        [-1n, null],
        [9n, null],
      ],
    );
    assert.equal(listed[3]!.timestamp, BigInt(base + 4));
    assertKafkaError(listed[6]!.error, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'clicks-7');
    assertKafkaError(listed[7]!.error, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'nowhere');
    const [committedEnd] = await admin.listOffsets(
      [{ topic: 'clicks', partition: 0, spec: 'latest' }],
      { isolationLevel: 'read_committed' },
    );
    assert.equal(committedEnd!.offset, 10n);

    const deleted = await admin.deleteRecords([
      { topic: 'clicks', partition: 0, offset: 4n },
      { topic: 'clicks', partition: 1, offset: -1n },
      { topic: 'clicks', partition: 0, offset: 11n },
      { topic: 'nowhere', partition: 0, offset: 1n },
    ]);
    assert.deepEqual(
      deleted.slice(0, 2).map((d) => [d.lowWatermark, d.error]),
      [
        [4n, null],
        [3n, null],
      ],
    );
    assertKafkaError(deleted[2]!.error, ErrorCode.OFFSET_OUT_OF_RANGE, 'clicks-0');
    assertKafkaError(deleted[3]!.error, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'nowhere');
    const starts = await admin.listOffsets([
      { topic: 'clicks', partition: 0, spec: 'earliest' },
      { topic: 'clicks', partition: 1, spec: 'earliest' },
    ]);
    assert.deepEqual(
      starts.map((s) => s.offset),
      [4n, 3n],
    );
  });

  it('lists, describes and deletes groups, and refuses to delete one with members', async (t) => {
    const { bootstrap, port } = await startBroker(t);
    const admin = newAdmin(t, bootstrap);
    const connection = await rawConnection(t, port);
    await admin.createTopics([{ name: 'jobs', partitions: 2 }]);

    // An offsets-only group (commits from outside) and a consumer group with a member.
    const committed = await admin.alterGroupOffsets('reporting', [
      { topic: 'jobs', partition: 0, offset: 0n },
    ]);
    assert.equal(committed[0]!.error, null);
    const member = await joinAsMember(
      connection,
      'workers',
      ['jobs'],
      [{ topic: 'jobs', partitions: [0, 1] }],
    );

    const listed = await admin.listGroups();
    assert.deepEqual(
      listed.map((g) => [g.groupId, g.state, g.protocolType]),
      [
        ['reporting', 'Empty', ''],
        ['workers', 'Stable', 'consumer'],
      ],
    );
    assert.equal(listed[0]!.coordinator, 1);
    assert.deepEqual(
      (await admin.listGroups({ states: ['Stable'] })).map((g) => g.groupId),
      ['workers'],
    );

    const [workers, reporting, ghost] = await admin.describeGroups([
      'workers',
      'reporting',
      'ghost',
    ]);
    assert.equal(workers!.error, null);
    assert.equal(workers!.state, 'Stable');
    assert.equal(workers!.protocol, 'range');
    assert.equal(workers!.coordinator, 1);
    assert.equal(workers!.members.length, 1);
    assert.equal(workers!.members[0]!.memberId, member.memberId);
    assert.equal(workers!.members[0]!.clientId, 'admin-test');
    assert.deepEqual(workers!.members[0]!.subscription, ['jobs']);
    assert.deepEqual(workers!.members[0]!.assignment, [{ topic: 'jobs', partitions: [0, 1] }]);
    assert.equal(reporting!.state, 'Empty');
    assert.deepEqual(reporting!.members, []);
    assertKafkaError(ghost!.error, ErrorCode.GROUP_ID_NOT_FOUND, 'group ghost');

    const refused = await admin.deleteGroups(['workers', 'ghost']);
    assertKafkaError(refused[0]!.error, ErrorCode.NON_EMPTY_GROUP, 'group workers');
    assertKafkaError(refused[1]!.error, ErrorCode.GROUP_ID_NOT_FOUND, 'group ghost');

    // Offsets of a topic the members subscribe to cannot be deleted; of an empty group, they can.
    const [subscribed] = await admin.deleteGroupOffsets('workers', [
      { topic: 'jobs', partition: 0 },
    ]);
    assertKafkaError(
      subscribed!.error,
      ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC,
      'group workers jobs-0',
    );
    await member.leave();
    const deletedOffsets = await admin.deleteGroupOffsets('reporting', [
      { topic: 'jobs', partition: 0 },
    ]);
    assert.equal(deletedOffsets[0]!.error, null);
    const [afterDelete] = await admin.listGroupOffsets(['reporting']);
    assert.deepEqual(afterDelete!.partitions, []);

    const deleted = await admin.deleteGroups(['workers', 'reporting']);
    assert.deepEqual(
      deleted.map((d) => d.error),
      [null, null],
    );
    const [gone] = await admin.describeGroups(['workers']);
    assertKafkaError(gone!.error, ErrorCode.GROUP_ID_NOT_FOUND, 'group workers');
    assert.deepEqual(await admin.listGroups(), []);
  });

  it('reports lag per partition and per group after producing and committing', async (t) => {
    const { bootstrap, port } = await startBroker(t);
    const admin = newAdmin(t, bootstrap);
    const connection = await rawConnection(t, port);
    await admin.createTopics([{ name: 'metrics', partitions: 3 }]);
    await produce(connection, 'metrics', 0, 10);
    await produce(connection, 'metrics', 1, 6);
    await produce(connection, 'metrics', 2, 2);
    const commits = await admin.alterGroupOffsets('dashboard', [
      { topic: 'metrics', partition: 0, offset: 4n, metadata: 'm' },
      { topic: 'metrics', partition: 1, offset: 6n },
    ]);
    assert.deepEqual(
      commits.map((c) => c.error),
      [null, null],
    );
    await admin.alterGroupOffsets('idle', [{ topic: 'metrics', partition: 2, offset: 0n }]);

    const [dashboard, idle, none] = await admin.listGroupOffsets(['dashboard', 'idle', 'none']);
    assert.equal(dashboard!.error, null);
    assert.deepEqual(
      dashboard!.partitions.map((p) => [p.partition, p.committedOffset, p.logEndOffset, p.lag]),
      [
        [0, 4n, 10n, 6n],
        [1, 6n, 6n, 0n],
      ],
    );
    assert.equal(dashboard!.partitions[0]!.metadata, 'm');
    assert.equal(dashboard!.totalLag, 6n);
    assert.equal(idle!.totalLag, 2n);
    assert.deepEqual(none!.partitions, []);
    assert.equal(none!.totalLag, 0n);

    // Produce more: the lag grows by as much. Read-committed measures to the LSO (here the same).
    await produce(connection, 'metrics', 1, 5);
    const [later] = await admin.listGroupOffsets(['dashboard'], {
      isolationLevel: 'read_committed',
    });
    assert.deepEqual(
      later!.partitions.map((p) => p.lag),
      [6n, 5n],
    );
    assert.equal(later!.totalLag, 11n);

    // Asked for partitions: one without a commit has no lag.
    const [selected] = await admin.listGroupOffsets(['dashboard'], {
      topics: [{ topic: 'metrics' }],
    });
    assert.deepEqual(
      selected!.partitions.map((p) => [p.partition, p.committedOffset, p.lag]),
      [
        [0, 4n, 6n],
        [1, 6n, 5n],
        [2, -1n, null],
      ],
    );
    await assert.rejects(
      admin.listGroupOffsets(['dashboard'], { topics: [{ topic: 'unheard' }] }),
      (error: unknown) => {
        assertKafkaError(error, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'topic unheard');
        return true;
      },
    );
  });

  it('resets offsets of an inactive group and refuses an active one', async (t) => {
    const { bootstrap, port } = await startBroker(t);
    const admin = newAdmin(t, bootstrap);
    const connection = await rawConnection(t, port);
    await admin.createTopics([{ name: 'ledger', partitions: 2 }]);
    const base = Date.now() - 60_000;
    await produce(connection, 'ledger', 0, 10, base);
    await produce(connection, 'ledger', 1, 4, base);
    await admin.alterGroupOffsets('auditors', [
      { topic: 'ledger', partition: 0, offset: 5n },
      { topic: 'ledger', partition: 1, offset: 1n },
    ]);
    const committed = async () => {
      const [group] = await admin.listGroupOffsets(['auditors']);
      return group!.partitions.map((p) => p.committedOffset);
    };

    const member = await joinAsMember(
      connection,
      'auditors',
      ['ledger'],
      [{ topic: 'ledger', partitions: [0, 1] }],
    );
    await assert.rejects(
      admin.resetGroupOffsets('auditors', { to: 'earliest' }),
      (error: unknown) => {
        assertKafkaError(error, ErrorCode.NON_EMPTY_GROUP, 'group auditors');
        assert.match((error as Error).message, /Stable/);
        return true;
      },
    );
    // Altering offsets from outside an active group is refused by the coordinator.
    const [outside] = await admin.alterGroupOffsets('auditors', [
      { topic: 'ledger', partition: 0, offset: 0n },
    ]);
    assertKafkaError(outside!.error, ErrorCode.UNKNOWN_MEMBER_ID, 'group auditors ledger-0');
    await member.leave();

    const dry = await admin.resetGroupOffsets('auditors', { to: 'latest', dryRun: true });
    assert.deepEqual(
      dry.map((r) => [r.topic, r.partition, r.offset, r.error]),
      [
        ['ledger', 0, 10n, null],
        ['ledger', 1, 4n, null],
      ],
    );
    assert.deepEqual(await committed(), [5n, 1n]);

    await admin.resetGroupOffsets('auditors', { to: 'earliest' });
    assert.deepEqual(await committed(), [0n, 0n]);
    await admin.resetGroupOffsets('auditors', { to: 'latest' });
    assert.deepEqual(await committed(), [10n, 4n]);
    await admin.resetGroupOffsets('auditors', { to: { timestamp: base + 3 } });
    assert.deepEqual(await committed(), [3n, 3n]);
    // After every record: the log end, as kafka-consumer-groups does.
    await admin.resetGroupOffsets('auditors', { to: { timestamp: Date.now() + 60_000 } });
    assert.deepEqual(await committed(), [10n, 4n]);
    // An explicit offset is brought within [log start, log end].
    const explicit = await admin.resetGroupOffsets('auditors', { to: { offset: 7n } });
    assert.deepEqual(
      explicit.map((r) => r.offset),
      [7n, 4n],
    );
    assert.deepEqual(await committed(), [7n, 4n]);
    // Only the partitions asked for.
    await admin.resetGroupOffsets('auditors', {
      to: 'earliest',
      topics: [{ topic: 'ledger', partitions: [1] }],
    });
    assert.deepEqual(await committed(), [7n, 0n]);
    // A group that does not exist yet can be given offsets.
    const fresh = await admin.resetGroupOffsets('newcomers', {
      to: 'latest',
      topics: [{ topic: 'ledger' }],
    });
    assert.deepEqual(
      fresh.map((r) => [r.offset, r.error]),
      [
        [10n, null],
        [4n, null],
      ],
    );
    const [newcomers] = await admin.describeGroups(['newcomers']);
    assert.equal(newcomers!.state, 'Empty');
  });

  it('describes the cluster', async (t) => {
    const { bootstrap, port, broker } = await startBroker(t);
    const admin = newAdmin(t, bootstrap);
    const cluster = await admin.describeCluster();
    assert.equal(cluster.clusterId, broker.context.metadata.clusterId);
    assert.equal(cluster.controllerId, 1);
    assert.deepEqual(cluster.brokers, [{ nodeId: 1, host: '127.0.0.1', port, rack: null }]);
    await assert.rejects(admin.listTopics({ signal: AbortSignal.abort() }), AbortedError);
  });

  it('rejects when no broker can be reached within the retries', async (t) => {
    const dead = createServer();
    await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve));
    const deadPort = (dead.address() as { port: number }).port;
    await new Promise<void>((resolve) => dead.close(() => resolve()));
    const admin = newAdmin(t, `127.0.0.1:${deadPort}`, 2);
    await assert.rejects(admin.describeCluster(), RetriesExhaustedError);
    await assert.rejects(admin.listTopics({ timeoutMs: 50 }), RetriesExhaustedError);
  });

  it('finds coordinators, the controller and leaders again after retriable errors', async (t) => {
    const proxy = await startProxy(t);
    const { port } = await startBroker(t, {
      'advertised.listeners': `PLAINTEXT://127.0.0.1:${proxy.port}`,
    });
    proxy.upstreamPort = port;
    const admin = newAdmin(t, `127.0.0.1:${proxy.port}`);
    const count = (apiKey: number) => proxy.seen.get(apiKey) ?? 0;
    /** The next `times` requests of an api get `errorCode`. */
    const failFirst = (target: number, errorCode: number, times = 1) => {
      const before = count(target);
      proxy.inject = (apiKey, n) =>
        apiKey === target && n <= before + times ? errorCode : undefined;
    };

    failFirst(ApiKey.CreateTopics, ErrorCode.NOT_CONTROLLER);
    const metadataBefore = count(ApiKey.Metadata);
    const [created] = await admin.createTopics([{ name: 'retried', partitions: 2 }]);
    assert.equal(created!.error, null);
    assert.equal(count(ApiKey.CreateTopics), 2);
    assert.ok(count(ApiKey.Metadata) > metadataBefore, 'the controller is looked up again');

    failFirst(ApiKey.OffsetCommit, ErrorCode.NOT_COORDINATOR);
    const [commit] = await admin.alterGroupOffsets('g', [
      { topic: 'retried', partition: 0, offset: 0n },
    ]);
    assert.equal(commit!.error, null);
    assert.equal(count(ApiKey.FindCoordinator), 2, 'the coordinator is found again');

    failFirst(ApiKey.DescribeGroups, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, 2);
    const [described] = await admin.describeGroups(['g']);
    assert.equal(described!.error, null);
    assert.equal(described!.state, 'Empty');
    assert.equal(count(ApiKey.DescribeGroups), 3);

    failFirst(ApiKey.OffsetFetch, ErrorCode.COORDINATOR_NOT_AVAILABLE);
    const [offsets] = await admin.listGroupOffsets(['g']);
    assert.equal(offsets!.error, null);
    assert.equal(offsets!.partitions.length, 1);

    failFirst(ApiKey.ListOffsets, ErrorCode.NOT_LEADER_OR_FOLLOWER);
    const metadataBeforeLeader = count(ApiKey.Metadata);
    const [end] = await admin.listOffsets([{ topic: 'retried', partition: 1, spec: 'latest' }]);
    assert.equal(end!.error, null);
    assert.equal(end!.offset, 0n);
    assert.ok(count(ApiKey.Metadata) > metadataBeforeLeader, 'the leader is looked up again');

    // A retriable error that does not go away ends as that error, naming the group.
    const stubborn = newAdmin(t, `127.0.0.1:${proxy.port}`, 2);
    proxy.inject = (apiKey) =>
      apiKey === ApiKey.DeleteGroups ? ErrorCode.NOT_COORDINATOR : undefined;
    const [notDeleted] = await stubborn.deleteGroups(['g']);
    assertKafkaError(notDeleted!.error, ErrorCode.NOT_COORDINATOR, 'group g');
    proxy.inject = () => undefined;
  });

  it('sends a request once on a non-retriable error and again on a retriable one', async (t) => {
    const proxy = await startProxy(t);
    const { port } = await startBroker(t, {
      'advertised.listeners': `PLAINTEXT://127.0.0.1:${proxy.port}`,
    });
    proxy.upstreamPort = port;
    const logged: { level: LogLevel; msg: string; fields: Record<string, unknown> | undefined }[] =
      [];
    const admin = new Admin({
      bootstrapServers: [`127.0.0.1:${proxy.port}`],
      retry: { ...FAST_RETRY, retries: 10 },
      logger: { log: (level, msg, fields) => logged.push({ level, msg, fields }) },
    });
    t.after(() => admin.close());
    const count = (apiKey: number) => proxy.seen.get(apiKey) ?? 0;
    const retriesLogged = () => logged.filter((e) => e.msg === 'admin: retrying');
    const [created] = await admin.createTopics([{ name: 'audited', partitions: 1 }]);
    assert.equal(created!.error, null);
    const [committed] = await admin.alterGroupOffsets('g', [
      { topic: 'audited', partition: 0, offset: 0n },
    ]);
    assert.equal(committed!.error, null);
    assert.equal(retriesLogged().length, 0);
    const coordinatorLookups = count(ApiKey.FindCoordinator);

    // Non-retriable: the error is the group's result at once, after one DescribeGroups.
    assert.equal(new KafkaProtocolError(ErrorCode.GROUP_AUTHORIZATION_FAILED).retriable, false);
    proxy.inject = (apiKey) =>
      apiKey === ApiKey.DescribeGroups ? ErrorCode.GROUP_AUTHORIZATION_FAILED : undefined;
    let before = count(ApiKey.DescribeGroups);
    const [denied] = await admin.describeGroups(['g']);
    assertKafkaError(denied!.error, ErrorCode.GROUP_AUTHORIZATION_FAILED, 'group g');
    assert.equal(count(ApiKey.DescribeGroups), before + 1, 'DescribeGroups was sent once');
    assert.equal(count(ApiKey.FindCoordinator), coordinatorLookups);
    assert.equal(retriesLogged().length, 0);

    // A broker-level non-retriable error rejects listGroups, after one ListGroups.
    proxy.inject = (apiKey) =>
      apiKey === ApiKey.ListGroups ? ErrorCode.INVALID_REQUEST : undefined;
    before = count(ApiKey.ListGroups);
    await assert.rejects(admin.listGroups(), (error) => {
      assertKafkaError(error, ErrorCode.INVALID_REQUEST, 'broker 1');
      return true;
    });
    assert.equal(count(ApiKey.ListGroups), before + 1, 'ListGroups was sent once');
    assert.equal(retriesLogged().length, 0);

    // Retriable, once: sent again (the coordinator looked up again) and answered.
    before = count(ApiKey.DescribeGroups);
    proxy.inject = (apiKey, n) =>
      apiKey === ApiKey.DescribeGroups && n === before + 1
        ? ErrorCode.COORDINATOR_LOAD_IN_PROGRESS
        : undefined;
    const [described] = await admin.describeGroups(['g']);
    assert.equal(described!.error, null);
    assert.equal(described!.state, 'Empty');
    assert.equal(count(ApiKey.DescribeGroups), before + 2);
    assert.equal(count(ApiKey.FindCoordinator), coordinatorLookups + 1);
    const [retrying] = retriesLogged();
    assert.equal(retrying?.level, 'debug');
    assert.equal(retrying?.fields?.attempt, 1);
    assert.equal(retrying?.fields?.items, 1);
    assert.match(String(retrying?.fields?.error), /COORDINATOR_LOAD_IN_PROGRESS.*group g/);

    before = count(ApiKey.ListGroups);
    proxy.inject = (apiKey, n) =>
      apiKey === ApiKey.ListGroups && n === before + 1
        ? ErrorCode.COORDINATOR_LOAD_IN_PROGRESS
        : undefined;
    assert.deepEqual(
      (await admin.listGroups()).map((g) => g.groupId),
      ['g'],
    );
    assert.equal(count(ApiKey.ListGroups), before + 2);
    proxy.inject = () => undefined;
  });
});
