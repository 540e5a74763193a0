/**
 * The group coordinator through the raw protocol: FindCoordinator, the JoinGroup/SyncGroup
 * rebalance (KIP-394 member ids, generations, leader, protocol selection), heartbeats and
 * session expiry, static membership, LeaveGroup, offset commits and fetches, the admin APIs,
 * persistence in `__consumer_offsets` across restarts, and the errors Kafka gives.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import {
  ApiKey,
  ConsumerProtocolSubscription,
  CreateTopicsRequest,
  CreateTopicsResponse,
  DeleteGroupsRequest,
  DeleteGroupsResponse,
  DeleteTopicsRequest,
  DeleteTopicsResponse,
  DescribeGroupsRequest,
  DescribeGroupsResponse,
  decodeRecordBatches,
  ErrorCode,
  FetchRequest,
  FetchResponse,
  FindCoordinatorRequest,
  FindCoordinatorResponse,
  HeartbeatRequest,
  HeartbeatResponse,
  JoinGroupRequest,
  JoinGroupResponse,
  LeaveGroupRequest,
  LeaveGroupResponse,
  ListGroupsRequest,
  ListGroupsResponse,
  MetadataRequest,
  MetadataResponse,
  OffsetCommitRequest,
  OffsetCommitResponse,
  OffsetDeleteRequest,
  OffsetDeleteResponse,
  OffsetFetchRequest,
  OffsetFetchResponse,
  SyncGroupRequest,
  SyncGroupResponse,
  Writer,
} from '@brook/protocol';
import { parseBrokerConfig } from '../src/config/broker-config.ts';
import { GroupCoordinator } from '../src/group/group-coordinator.ts';
import { decodeOffsetsTopicRecord, offsetsPartitionFor } from '../src/group/group-records.ts';
import { silentLogger } from '../src/logger.ts';
import { RawClient, startTestBroker, type TestBroker } from './helpers.ts';

const FAST = {
  'group.initial.rebalance.delay.ms': '0',
  'group.min.session.timeout.ms': '100',
  'offsets.topic.num.partitions': '3',
};

async function setup(
  t: TestContext,
  options: { properties?: Record<string, string>; dataDirectory?: string } = {},
) {
  const broker = await startTestBroker(t, {
    ...options,
    properties: { ...FAST, ...options.properties },
  });
  const clients: RawClient[] = [];
  const connect = async () => {
    const client = await RawClient.connect(broker.port);
    clients.push(client);
    return client;
  };
  t.after(() => {
    for (const client of clients) client.close();
  });
  return { broker, connect, client: await connect() };
}

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
  assert.equal(response.topics[0]!.errorCode, ErrorCode.NONE);
}

/** Consumer-protocol subscription metadata for `topics`. */
function subscription(topics: string[]): Buffer {
  const writer = new Writer();
  writer.writeInt16(1);
  ConsumerProtocolSubscription.write(writer, { topics, userData: null, ownedPartitions: [] }, 1);
  return writer.toBuffer();
}

interface JoinOptions {
  memberId?: string;
  groupInstanceId?: string | null;
  protocolType?: string;
  protocols?: { name: string; metadata: Buffer }[];
  sessionTimeoutMs?: number;
  rebalanceTimeoutMs?: number;
  version?: number;
}

function joinGroup(client: RawClient, groupId: string, options: JoinOptions = {}) {
  return client.request(
    ApiKey.JoinGroup,
    options.version ?? 9,
    JoinGroupRequest,
    JoinGroupResponse,
    {
      groupId,
      sessionTimeoutMs: options.sessionTimeoutMs ?? 10_000,
      rebalanceTimeoutMs: options.rebalanceTimeoutMs ?? 5_000,
      memberId: options.memberId ?? '',
      groupInstanceId: options.groupInstanceId ?? null,
      protocolType: options.protocolType ?? 'consumer',
      protocols: options.protocols ?? [{ name: 'range', metadata: subscription(['t']) }],
    },
  );
}

/** JoinGroup v9 the way clients do it: MEMBER_ID_REQUIRED, then again with the id. */
async function joinWithId(client: RawClient, groupId: string, options: JoinOptions = {}) {
  if (options.groupInstanceId) return joinGroup(client, groupId, options);
  const first = await joinGroup(client, groupId, options);
  assert.equal(first.errorCode, ErrorCode.MEMBER_ID_REQUIRED);
  assert.notEqual(first.memberId, '');
  return joinGroup(client, groupId, { ...options, memberId: first.memberId });
}

function syncGroup(
  client: RawClient,
  groupId: string,
  memberId: string,
  generationId: number,
  assignments: { memberId: string; assignment: Buffer }[] = [],
  groupInstanceId: string | null = null,
) {
  return client.request(ApiKey.SyncGroup, 5, SyncGroupRequest, SyncGroupResponse, {
    groupId,
    generationId,
    memberId,
    groupInstanceId,
    protocolType: 'consumer',
    protocolName: 'range',
    assignments,
  });
}

async function heartbeat(
  client: RawClient,
  groupId: string,
  memberId: string,
  generationId: number,
  groupInstanceId: string | null = null,
) {
  const response = await client.request(ApiKey.Heartbeat, 4, HeartbeatRequest, HeartbeatResponse, {
    groupId,
    generationId,
    memberId,
    groupInstanceId,
  });
  return response.errorCode;
}

async function commit(
  client: RawClient,
  groupId: string,
  offsets: { topic: string; partition: number; offset: bigint; metadata?: string }[],
  member: { memberId: string; generationId: number; groupInstanceId?: string } = {
    memberId: '',
    generationId: -1,
  },
  version = 8,
) {
  const response = await client.request(
    ApiKey.OffsetCommit,
    version,
    OffsetCommitRequest,
    OffsetCommitResponse,
    {
      groupId,
      generationIdOrMemberEpoch: member.generationId,
      memberId: member.memberId,
      groupInstanceId: member.groupInstanceId ?? null,
      topics: [...new Set(offsets.map((o) => o.topic))].map((topic) => ({
        name: topic,
        partitions: offsets
          .filter((o) => o.topic === topic)
          .map((o) => ({
            partitionIndex: o.partition,
            committedOffset: o.offset,
            committedMetadata: o.metadata ?? null,
          })),
      })),
    },
  );
  return response.topics.flatMap((topic) =>
    topic.partitions.map((p) => ({
      topic: topic.name,
      partition: p.partitionIndex,
      errorCode: p.errorCode,
    })),
  );
}

async function fetchOffsets(
  client: RawClient,
  groupId: string,
  topics: { name: string; partitionIndexes: number[] }[] | null,
) {
  const response = await client.request(
    ApiKey.OffsetFetch,
    7,
    OffsetFetchRequest,
    OffsetFetchResponse,
    {
      groupId,
      topics,
      requireStable: true,
    },
  );
  return response;
}

async function describeGroup(client: RawClient, groupId: string) {
  const response = await client.request(
    ApiKey.DescribeGroups,
    5,
    DescribeGroupsRequest,
    DescribeGroupsResponse,
    { groups: [groupId], includeAuthorizedOperations: true },
  );
  return response.groups[0]!;
}

/** A stable group of one member (the leader), with an assignment. */
async function stableGroup(client: RawClient, groupId: string, options: JoinOptions = {}) {
  const joined = await joinWithId(client, groupId, options);
  assert.equal(joined.errorCode, ErrorCode.NONE);
  const synced = await syncGroup(
    client,
    groupId,
    joined.memberId,
    joined.generationId,
    [{ memberId: joined.memberId, assignment: Buffer.from('all of it') }],
    options.groupInstanceId ?? null,
  );
  assert.equal(synced.errorCode, ErrorCode.NONE);
  return joined;
}

describe('group coordinator', () => {
  it('FindCoordinator answers with this broker at every version and creates __consumer_offsets', async (t) => {
    const { broker, client } = await setup(t);
    for (let version = 0; version <= 6; version++) {
      const response = await client.request(
        ApiKey.FindCoordinator,
        version,
        FindCoordinatorRequest,
        FindCoordinatorResponse,
        version >= 4
          ? { keyType: 0, coordinatorKeys: ['group-a', 'group-b'] }
          : { key: 'group-a', keyType: 0 },
      );
      if (version >= 4) {
        assert.deepEqual(
          response.coordinators.map((c) => [c.key, c.nodeId, c.port, c.errorCode]),
          [
            ['group-a', 1, broker.port, ErrorCode.NONE],
            ['group-b', 1, broker.port, ErrorCode.NONE],
          ],
        );
      } else {
        assert.equal(response.errorCode, ErrorCode.NONE);
        assert.equal(response.nodeId, 1);
        assert.equal(response.host, '127.0.0.1');
        assert.equal(response.port, broker.port);
      }
    }
    const transaction = await client.request(
      ApiKey.FindCoordinator,
      3,
      FindCoordinatorRequest,
      FindCoordinatorResponse,
      { key: 'txn', keyType: 1, coordinatorKeys: [] },
    );
    assert.equal(transaction.errorCode, ErrorCode.COORDINATOR_NOT_AVAILABLE);
    const metadata = await client.request(ApiKey.Metadata, 12, MetadataRequest, MetadataResponse, {
      topics: [{ name: '__consumer_offsets', topicId: '00000000-0000-0000-0000-000000000000' }],
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: false,
    });
    const topic = metadata.topics[0]!;
    assert.equal(topic.errorCode, ErrorCode.NONE);
    assert.equal(topic.isInternal, true);
    assert.equal(topic.partitions.length, 3);
    assert.equal(
      broker.broker.context.metadata.topic('__consumer_offsets')?.configs['cleanup.policy'],
      'compact',
    );
  });

  it('runs a rebalance: member ids, leader, protocol selection, generations, assignments', async (t) => {
    const { connect } = await setup(t);
    const a = await connect();
    const b = await connect();
    const first = await joinWithId(a, 'g', {
      protocols: [
        { name: 'range', metadata: subscription(['t']) },
        { name: 'roundrobin', metadata: subscription(['t']) },
      ],
    });
    assert.equal(first.errorCode, ErrorCode.NONE);
    assert.equal(first.generationId, 1);
    assert.equal(first.leader, first.memberId);
    assert.equal(first.protocolName, 'range');
    assert.equal(first.protocolType, 'consumer');
    assert.equal(first.members.length, 1);
    assert.match(first.memberId, /^brook-test-[0-9a-f-]{36}$/);
    const synced = await syncGroup(a, 'g', first.memberId, 1, [
      { memberId: first.memberId, assignment: Buffer.from('p0-p5') },
    ]);
    assert.equal(synced.errorCode, ErrorCode.NONE);
    assert.equal(synced.assignment.toString(), 'p0-p5');
    assert.equal(await heartbeat(a, 'g', first.memberId, 1), ErrorCode.NONE);

    // A second member (preferring roundrobin, which both support) starts a rebalance.
    const bId = (
      await joinGroup(b, 'g', {
        protocols: [
          { name: 'roundrobin', metadata: subscription(['t']) },
          { name: 'range', metadata: subscription(['t']) },
        ],
      })
    ).memberId;
    const bJoin = joinGroup(b, 'g', {
      memberId: bId,
      protocols: [
        { name: 'roundrobin', metadata: subscription(['t']) },
        { name: 'range', metadata: subscription(['t']) },
      ],
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(await heartbeat(a, 'g', first.memberId, 1), ErrorCode.REBALANCE_IN_PROGRESS);
    const aJoin = joinGroup(a, 'g', {
      memberId: first.memberId,
      protocols: [
        { name: 'range', metadata: subscription(['t']) },
        { name: 'roundrobin', metadata: subscription(['t']) },
      ],
    });
    const [aJoined, bJoined] = await Promise.all([aJoin, bJoin]);
    assert.equal(aJoined.generationId, 2);
    assert.equal(bJoined.generationId, 2);
    assert.equal(aJoined.leader, first.memberId);
    assert.equal(aJoined.members.length, 2, 'the leader gets every member');
    assert.equal(bJoined.members.length, 0, 'a follower gets none');
    // One vote each: the tie goes to the leader's preference.
    assert.equal(aJoined.protocolName, 'range');
    // The follower waits for the leader's assignment.
    const bSync = syncGroup(b, 'g', bId, 2);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const aSync = await syncGroup(a, 'g', first.memberId, 2, [
      { memberId: first.memberId, assignment: Buffer.from('p0-p2') },
      { memberId: bId, assignment: Buffer.from('p3-p5') },
    ]);
    assert.equal(aSync.assignment.toString(), 'p0-p2');
    assert.equal((await bSync).assignment.toString(), 'p3-p5');
    // A stale generation is refused.
    assert.equal(await heartbeat(b, 'g', bId, 1), ErrorCode.ILLEGAL_GENERATION);
    assert.equal((await syncGroup(b, 'g', bId, 1)).errorCode, ErrorCode.ILLEGAL_GENERATION);
    const description = await describeGroup(a, 'g');
    assert.equal(description.groupState, 'Stable');
    assert.equal(description.protocolData, 'range');
    assert.deepEqual(
      description.members
        .map((m) => [m.memberId, m.clientHost, m.memberAssignment.toString()])
        .sort(),
      [
        [first.memberId, '/127.0.0.1', 'p0-p2'],
        [bId, '/127.0.0.1', 'p3-p5'],
      ].sort(),
    );
    assert.equal(description.authorizedOperations, (1 << 3) | (1 << 6) | (1 << 8));

    // The leader leaves: the other member rejoins alone and becomes the leader.
    const left = await a.request(ApiKey.LeaveGroup, 5, LeaveGroupRequest, LeaveGroupResponse, {
      groupId: 'g',
      members: [{ memberId: first.memberId, groupInstanceId: null, reason: 'closing' }],
    });
    assert.equal(left.errorCode, ErrorCode.NONE);
    assert.deepEqual(
      left.members.map((m) => m.errorCode),
      [ErrorCode.NONE],
    );
    assert.equal(await heartbeat(b, 'g', bId, 2), ErrorCode.REBALANCE_IN_PROGRESS);
    const alone = await joinGroup(b, 'g', { memberId: bId });
    assert.equal(alone.generationId, 3);
    assert.equal(alone.leader, bId);
  });

  it('old JoinGroup versions join at once, without MEMBER_ID_REQUIRED', async (t) => {
    const { client } = await setup(t);
    for (const version of [0, 1, 3]) {
      const joined = await joinGroup(client, `old-${version}`, { version });
      assert.equal(joined.errorCode, ErrorCode.NONE, `v${version}`);
      assert.equal(joined.generationId, 1);
      assert.equal(joined.protocolName, 'range');
    }
  });

  it('refuses bad joins with Kafka errors and keeps the group consistent', async (t) => {
    const { client, connect } = await setup(t);
    const join = (groupId: string, options: JoinOptions) => joinGroup(client, groupId, options);
    assert.equal((await join('', {})).errorCode, ErrorCode.INVALID_GROUP_ID);
    assert.equal(
      (await join('g', { sessionTimeoutMs: 10 })).errorCode,
      ErrorCode.INVALID_SESSION_TIMEOUT,
    );
    assert.equal(
      (await join('g', { sessionTimeoutMs: 3_600_000 })).errorCode,
      ErrorCode.INVALID_SESSION_TIMEOUT,
    );
    assert.equal(
      (await join('g', { protocolType: '' })).errorCode,
      ErrorCode.INCONSISTENT_GROUP_PROTOCOL,
    );
    assert.equal(
      (await join('g', { protocols: [] })).errorCode,
      ErrorCode.INCONSISTENT_GROUP_PROTOCOL,
    );
    assert.equal((await join('g', { memberId: 'made-up' })).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
    const stable = await stableGroup(client, 'g');
    const other = await connect();
    // Another protocol type, or no protocol in common, cannot join.
    assert.equal(
      (await joinGroup(other, 'g', { protocolType: 'connect' })).errorCode,
      ErrorCode.INCONSISTENT_GROUP_PROTOCOL,
    );
    assert.equal(
      (await joinGroup(other, 'g', { protocols: [{ name: 'sticky', metadata: Buffer.alloc(0) }] }))
        .errorCode,
      ErrorCode.INCONSISTENT_GROUP_PROTOCOL,
    );
    assert.equal(
      (await joinGroup(other, 'g', { memberId: 'made-up' })).errorCode,
      ErrorCode.UNKNOWN_MEMBER_ID,
    );
    assert.equal(await heartbeat(other, 'g', 'made-up', 1), ErrorCode.UNKNOWN_MEMBER_ID);
    assert.equal(await heartbeat(other, 'nope', 'made-up', 1), ErrorCode.UNKNOWN_MEMBER_ID);
    assert.equal(
      (await syncGroup(other, 'g', 'made-up', 1)).errorCode,
      ErrorCode.UNKNOWN_MEMBER_ID,
    );
    const inconsistent = await client.request(
      ApiKey.SyncGroup,
      5,
      SyncGroupRequest,
      SyncGroupResponse,
      {
        groupId: 'g',
        generationId: 1,
        memberId: stable.memberId,
        groupInstanceId: null,
        protocolType: 'connect',
        protocolName: 'range',
        assignments: [],
      },
    );
    assert.equal(inconsistent.errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    // Nothing of this disturbed the group.
    assert.equal(await heartbeat(client, 'g', stable.memberId, 1), ErrorCode.NONE);
    const description = await describeGroup(client, 'g');
    assert.equal(description.groupState, 'Stable');
    assert.equal(description.members.length, 1);
  });

  it('group.max.size bounds the members', async (t) => {
    const { client, connect } = await setup(t, { properties: { 'group.max.size': '1' } });
    await stableGroup(client, 'g');
    const other = await connect();
    const refused = await joinGroup(other, 'g');
    assert.equal(refused.errorCode, ErrorCode.GROUP_MAX_SIZE_REACHED);
  });

  it('a member that stops heartbeating is removed after its session timeout', async (t) => {
    const { connect } = await setup(t);
    const a = await connect();
    const b = await connect();
    const aJoined = await joinWithId(a, 'g', { sessionTimeoutMs: 300 });
    await syncGroup(a, 'g', aJoined.memberId, 1, []);
    const bFirst = await joinGroup(b, 'g', { sessionTimeoutMs: 300 });
    const bJoin = joinGroup(b, 'g', { memberId: bFirst.memberId, sessionTimeoutMs: 300 });
    // a never rejoins: the rebalance completes without it after its session expires... but
    // members awaiting a rebalance are alive, so a's session (not awaiting) runs out.
    const bJoined = await bJoin;
    assert.equal(bJoined.errorCode, ErrorCode.NONE);
    assert.equal(bJoined.generationId, 2);
    assert.equal(bJoined.leader, bJoined.memberId);
    assert.equal(bJoined.members.length, 1);
    assert.equal(await heartbeat(a, 'g', aJoined.memberId, 1), ErrorCode.UNKNOWN_MEMBER_ID);
  });

  it('a pending member that never comes back with its id is forgotten', async (t) => {
    const { broker, client } = await setup(t);
    const first = await joinGroup(client, 'pending', { sessionTimeoutMs: 150 });
    assert.equal(first.errorCode, ErrorCode.MEMBER_ID_REQUIRED);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(broker.broker.context.groups.groupState('pending'), undefined);
    assert.equal(
      (await joinGroup(client, 'pending', { memberId: first.memberId })).errorCode,
      ErrorCode.UNKNOWN_MEMBER_ID,
    );
  });

  it('static members: a restart takes the old place without a rebalance; the old id is fenced', async (t) => {
    const { connect } = await setup(t);
    const a = await connect();
    const first = await stableGroup(a, 'static', { groupInstanceId: 'instance-1' });
    assert.equal(first.generationId, 1);
    const restarted = await connect();
    const again = await joinGroup(restarted, 'static', { groupInstanceId: 'instance-1' });
    assert.equal(again.errorCode, ErrorCode.NONE);
    assert.equal(again.generationId, 1, 'no new generation');
    assert.notEqual(again.memberId, first.memberId);
    // v9: the restarted leader is told it leads but must skip the assignment.
    assert.equal(again.leader, again.memberId);
    assert.equal(again.skipAssignment, true);
    const synced = await syncGroup(restarted, 'static', again.memberId, 1, [], 'instance-1');
    assert.equal(synced.errorCode, ErrorCode.NONE);
    assert.equal(synced.assignment.toString(), 'all of it', 'the assignment is kept');
    assert.equal(
      await heartbeat(a, 'static', first.memberId, 1, 'instance-1'),
      ErrorCode.FENCED_INSTANCE_ID,
    );
    assert.equal(
      await heartbeat(restarted, 'static', again.memberId, 1, 'instance-1'),
      ErrorCode.NONE,
    );
    // Before v9 the old leader id is returned, so the member does not assign.
    const older = await joinGroup(await connect(), 'static', {
      groupInstanceId: 'instance-1',
      version: 5,
    });
    assert.equal(older.errorCode, ErrorCode.NONE);
    assert.equal(older.leader, again.memberId);
    assert.equal(older.skipAssignment, false);
    // Administrative removal by instance id.
    const removed = await a.request(ApiKey.LeaveGroup, 4, LeaveGroupRequest, LeaveGroupResponse, {
      groupId: 'static',
      members: [
        { memberId: '', groupInstanceId: 'instance-1', reason: null },
        { memberId: '', groupInstanceId: 'unknown', reason: null },
      ],
    });
    assert.deepEqual(
      removed.members.map((m) => m.errorCode),
      [ErrorCode.NONE, ErrorCode.UNKNOWN_MEMBER_ID],
    );
  });

  it('commits and fetches offsets: simple consumers, members, errors', async (t) => {
    const { client } = await setup(t);
    await createTopic(client, 't', 2);
    assert.deepEqual(
      await commit(client, 'simple', [
        { topic: 't', partition: 0, offset: 5n, metadata: 'hello' },
        { topic: 't', partition: 1, offset: 7n },
        { topic: 't', partition: 9, offset: 1n },
        { topic: 'missing', partition: 0, offset: 1n },
        { topic: 't', partition: 1, offset: 8n, metadata: 'x'.repeat(4097) },
      ]),
      [
        { topic: 't', partition: 0, errorCode: ErrorCode.NONE },
        { topic: 't', partition: 1, errorCode: ErrorCode.NONE },
        { topic: 't', partition: 9, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION },
        { topic: 't', partition: 1, errorCode: ErrorCode.OFFSET_METADATA_TOO_LARGE },
        { topic: 'missing', partition: 0, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION },
      ].sort((x, y) => (x.topic === y.topic ? 0 : x.topic === 't' ? -1 : 1)),
    );
    const fetched = await fetchOffsets(client, 'simple', [{ name: 't', partitionIndexes: [0, 1] }]);
    assert.equal(fetched.errorCode, ErrorCode.NONE);
    assert.deepEqual(
      fetched.topics[0]!.partitions.map((p) => [p.partitionIndex, p.committedOffset, p.metadata]),
      [
        [0, 5n, 'hello'],
        [1, 7n, ''],
      ],
    );
    const all = await fetchOffsets(client, 'simple', null);
    assert.equal(all.topics[0]!.partitions.length, 2);
    const none = await fetchOffsets(client, 'nobody', [{ name: 't', partitionIndexes: [0] }]);
    assert.equal(none.topics[0]!.partitions[0]!.committedOffset, -1n);
    // v8: many groups at once.
    const batched = await client.request(
      ApiKey.OffsetFetch,
      8,
      OffsetFetchRequest,
      OffsetFetchResponse,
      {
        groups: [
          { groupId: 'simple', memberId: null, memberEpoch: -1, topics: null },
          {
            groupId: 'nobody',
            memberId: null,
            memberEpoch: -1,
            topics: [{ name: 't', partitionIndexes: [1] }],
          },
        ],
        requireStable: false,
      },
    );
    assert.deepEqual(
      batched.groups.map((g) => [
        g.groupId,
        g.topics.flatMap((t) => t.partitions.map((p) => p.committedOffset)),
      ]),
      [
        ['simple', [5n, 7n]],
        ['nobody', [-1n]],
      ],
    );
    // A group member commits with its generation; others are refused.
    const member = await stableGroup(client, 'managed');
    const ok = await commit(client, 'managed', [{ topic: 't', partition: 0, offset: 3n }], {
      memberId: member.memberId,
      generationId: member.generationId,
    });
    assert.equal(ok[0]!.errorCode, ErrorCode.NONE);
    const stale = await commit(client, 'managed', [{ topic: 't', partition: 0, offset: 4n }], {
      memberId: member.memberId,
      generationId: member.generationId - 1,
    });
    assert.equal(stale[0]!.errorCode, ErrorCode.ILLEGAL_GENERATION);
    const stranger = await commit(client, 'managed', [{ topic: 't', partition: 0, offset: 4n }], {
      memberId: 'someone',
      generationId: member.generationId,
    });
    assert.equal(stranger[0]!.errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
    const simpleIntoActive = await commit(client, 'managed', [
      { topic: 't', partition: 0, offset: 4n },
    ]);
    assert.equal(simpleIntoActive[0]!.errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
    const unknownGroup = await commit(client, 'ghost', [{ topic: 't', partition: 0, offset: 4n }], {
      memberId: 'm',
      generationId: 3,
    });
    assert.equal(unknownGroup[0]!.errorCode, ErrorCode.ILLEGAL_GENERATION);
    // v0-v1 commits (no generation in v0).
    assert.equal(
      (await commit(client, 'simple', [{ topic: 't', partition: 0, offset: 6n }], undefined, 0))[0]!
        .errorCode,
      ErrorCode.NONE,
    );
    const v0 = await client.request(
      ApiKey.OffsetFetch,
      0,
      OffsetFetchRequest,
      OffsetFetchResponse,
      {
        groupId: 'simple',
        topics: [{ name: 't', partitionIndexes: [0] }],
        requireStable: false,
      },
    );
    assert.equal(v0.topics[0]!.partitions[0]!.committedOffset, 6n);
  });

  it('stores groups and offsets in __consumer_offsets in Kafka’s format, and loads them after a restart', async (t) => {
    const dataDirectory = mkdtempSync(join(tmpdir(), 'brook-groups-'));
    t.after(() => rmSync(dataDirectory, { recursive: true, force: true }));
    let member: Awaited<ReturnType<typeof stableGroup>>;
    {
      const { broker, client } = await setup(t, { dataDirectory });
      await createTopic(client, 't', 2);
      member = await stableGroup(client, 'persisted', { sessionTimeoutMs: 30_000 });
      await commit(
        client,
        'persisted',
        [{ topic: 't', partition: 1, offset: 42n, metadata: 'm' }],
        {
          memberId: member.memberId,
          generationId: member.generationId,
        },
      );
      await commit(client, 'simple', [{ topic: 't', partition: 0, offset: 9n }]);
      // The records are Kafka's: read them back from the topic and decode them.
      const partition = offsetsPartitionFor('persisted', 3);
      const fetched = await client.request(ApiKey.Fetch, 12, FetchRequest, FetchResponse, {
        replicaId: -1,
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: 1 << 20,
        isolationLevel: 0,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [
          {
            topic: '__consumer_offsets',
            topicId: '00000000-0000-0000-0000-000000000000',
            partitions: [
              {
                partition,
                currentLeaderEpoch: -1,
                fetchOffset: 0n,
                lastFetchedEpoch: -1,
                logStartOffset: -1n,
                partitionMaxBytes: 1 << 20,
              },
            ],
          },
        ],
        forgottenTopicsData: [],
        rackId: '',
      });
      const records = fetched.responses[0]!.partitions[0]!.records!;
      const decoded = decodeRecordBatches(records).batches.flatMap((batch) =>
        batch.records.map((record) => decodeOffsetsTopicRecord(record.key, record.value)),
      );
      const group = decoded.find((r) => r.type === 'group' && r.group === 'persisted');
      assert.ok(group?.type === 'group' && group.value);
      assert.equal(group.value.generationId, 1);
      assert.equal(group.value.protocolName, 'range');
      assert.equal(group.value.members[0]!.memberId, member.memberId);
      assert.equal(Buffer.from(group.value.members[0]!.assignment).toString(), 'all of it');
      const offset = decoded.find((r) => r.type === 'offset' && r.group === 'persisted');
      assert.ok(offset?.type === 'offset');
      assert.equal(offset.value?.offset, 42n);
      await broker.stop();
    }
    {
      const { broker, client } = await setup(t, { dataDirectory });
      await broker.broker.context.groups.whenLoaded();
      const description = await describeGroup(client, 'persisted');
      assert.equal(description.groupState, 'Stable');
      assert.equal(description.members[0]?.memberId, member.memberId);
      assert.equal(description.members[0]?.memberAssignment.toString(), 'all of it');
      // The member carries on in its generation.
      assert.equal(await heartbeat(client, 'persisted', member.memberId, 1), ErrorCode.NONE);
      const offsets = await fetchOffsets(client, 'persisted', [
        { name: 't', partitionIndexes: [1] },
      ]);
      assert.equal(offsets.topics[0]!.partitions[0]!.committedOffset, 42n);
      assert.equal(offsets.topics[0]!.partitions[0]!.metadata, 'm');
      const simple = await fetchOffsets(client, 'simple', [{ name: 't', partitionIndexes: [0] }]);
      assert.equal(simple.topics[0]!.partitions[0]!.committedOffset, 9n);
      await broker.stop();
    }
  });

  it('lists, describes and deletes groups; deletes offsets as Kafka allows', async (t) => {
    const { broker, client, connect } = await setup(t);
    await createTopic(client, 't', 1);
    await createTopic(client, 'other', 1);
    await commit(client, 'empty', [{ topic: 't', partition: 0, offset: 1n }]);
    const member = await stableGroup(await connect(), 'busy');
    await commit(
      client,
      'busy',
      [
        { topic: 't', partition: 0, offset: 2n },
        { topic: 'other', partition: 0, offset: 3n },
      ],
      { memberId: member.memberId, generationId: member.generationId },
    );
    const list = async (states: string[]) =>
      (
        await client.request(ApiKey.ListGroups, 5, ListGroupsRequest, ListGroupsResponse, {
          statesFilter: states,
          typesFilter: [],
        })
      ).groups
        .map((g) => `${g.groupId}:${g.groupState}:${g.protocolType}:${g.groupType}`)
        .sort();
    assert.deepEqual(await list([]), ['busy:Stable:consumer:classic', 'empty:Empty::classic']);
    assert.deepEqual(await list(['stable']), ['busy:Stable:consumer:classic']);
    assert.equal((await describeGroup(client, 'nope')).groupState, 'Dead');

    // OffsetDelete: the busy group subscribes to t, not to other.
    const offsetDelete = (groupId: string, topic: string) =>
      client.request(ApiKey.OffsetDelete, 0, OffsetDeleteRequest, OffsetDeleteResponse, {
        groupId,
        topics: [{ name: topic, partitions: [{ partitionIndex: 0 }] }],
      });
    assert.equal(
      (await offsetDelete('busy', 't')).topics[0]!.partitions[0]!.errorCode,
      ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC,
    );
    const deletedOther = await offsetDelete('busy', 'other');
    assert.equal(deletedOther.errorCode, ErrorCode.NONE);
    assert.equal(deletedOther.topics[0]!.partitions[0]!.errorCode, ErrorCode.NONE);
    assert.equal(
      (await fetchOffsets(client, 'busy', [{ name: 'other', partitionIndexes: [0] }])).topics[0]!
        .partitions[0]!.committedOffset,
      -1n,
    );
    assert.equal((await offsetDelete('ghost', 't')).errorCode, ErrorCode.GROUP_ID_NOT_FOUND);

    const deleteGroups = async (names: string[]) =>
      (
        await client.request(ApiKey.DeleteGroups, 2, DeleteGroupsRequest, DeleteGroupsResponse, {
          groupsNames: names,
        })
      ).results.map((r) => [r.groupId, r.errorCode]);
    assert.deepEqual(await deleteGroups(['busy', 'empty', 'ghost']), [
      ['busy', ErrorCode.NON_EMPTY_GROUP],
      ['empty', ErrorCode.NONE],
      ['ghost', ErrorCode.GROUP_ID_NOT_FOUND],
    ]);
    assert.equal(
      (await fetchOffsets(client, 'empty', [{ name: 't', partitionIndexes: [0] }])).topics[0]!
        .partitions[0]!.committedOffset,
      -1n,
    );
    assert.deepEqual(await list([]), ['busy:Stable:consumer:classic']);

    // Deleting a topic removes its committed offsets.
    await client.request(ApiKey.DeleteTopics, 6, DeleteTopicsRequest, DeleteTopicsResponse, {
      topics: [{ name: 't', topicId: '00000000-0000-0000-0000-000000000000' }],
      topicNames: [],
      timeoutMs: 1000,
    });
    assert.equal(
      (await fetchOffsets(client, 'busy', [{ name: 't', partitionIndexes: [0] }])).topics[0]!
        .partitions[0]!.committedOffset,
      -1n,
    );
    assert.equal(broker.broker.context.groups.groupState('busy'), 'Stable');
  });

  it('expires the offsets of an empty group after offsets.retention.minutes, then the group', async (t) => {
    const { broker, client } = await setup(t, { properties: { 'offsets.retention.minutes': '1' } });
    await createTopic(client, 't', 1);
    await commit(client, 'old', [{ topic: 't', partition: 0, offset: 1n }]);
    const groups = broker.broker.context.groups;
    assert.equal(await groups.cleanupExpiredOffsets(Date.now() + 30_000), 0);
    assert.equal(groups.groupState('old'), 'Empty');
    assert.equal(await groups.cleanupExpiredOffsets(Date.now() + 61_000), 1);
    assert.equal(groups.groupState('old'), undefined);
  });

  it('answers COORDINATOR_LOAD_IN_PROGRESS while its partition of __consumer_offsets loads', async () => {
    let release: () => void = () => {};
    const stalled = new Promise<undefined>((resolve) => {
      release = () => resolve(undefined);
    });
    const coordinator = new GroupCoordinator({
      config: parseBrokerConfig({}, { dataDirectory: '/nonexistent' }),
      logger: silentLogger,
      offsetsTopic: {
        partitionCount: () => 1,
        ensureTopic: async () => 1,
        log: () => stalled,
        partitionExists: () => true,
      },
    });
    coordinator.start();
    try {
      const joined = await coordinator.joinGroup({
        groupId: 'g',
        memberId: '',
        groupInstanceId: null,
        clientId: 'c',
        clientHost: '/127.0.0.1',
        sessionTimeoutMs: 10_000,
        rebalanceTimeoutMs: 10_000,
        protocolType: 'consumer',
        protocols: [{ name: 'range', metadata: Buffer.alloc(0) }],
        requireKnownMemberId: true,
        supportSkippingAssignment: true,
        reason: null,
      });
      assert.equal(joined.errorCode, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
      const fetched = await coordinator.fetchOffsets('g', null);
      assert.equal(fetched.errorCode, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
      assert.equal(
        coordinator.listGroups([], []).errorCode,
        ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
      );
      release();
      await coordinator.whenLoaded();
      assert.equal(coordinator.listGroups([], []).errorCode, ErrorCode.NONE);
      assert.equal(
        await coordinator.heartbeat({
          groupId: 'g',
          generationId: 1,
          memberId: 'm',
          groupInstanceId: null,
        }),
        ErrorCode.UNKNOWN_MEMBER_ID,
      );
    } finally {
      coordinator.shutdown();
    }
  });

  it('metadata too large to store fails the sync with UNKNOWN_SERVER_ERROR; other groups carry on', async (t) => {
    const { broker, client, connect } = await setup(t);
    const big = Buffer.alloc(1_200_000, 7);
    const joined = await joinWithId(client, 'huge', {
      protocols: [{ name: 'range', metadata: big }],
    });
    assert.equal(joined.errorCode, ErrorCode.NONE);
    const synced = await syncGroup(client, 'huge', joined.memberId, joined.generationId, [
      { memberId: joined.memberId, assignment: Buffer.from('x') },
    ]);
    assert.equal(synced.errorCode, ErrorCode.UNKNOWN_SERVER_ERROR);
    assert.equal(broker.broker.context.groups.groupState('huge'), 'PreparingRebalance');
    await stableGroup(await connect(), 'small');
    assert.equal(broker.broker.context.groups.groupState('small'), 'Stable');
  });

  it('a flood of heartbeats is answered and leaves the group as it was', async (t) => {
    const { client } = await setup(t);
    const member = await stableGroup(client, 'flood');
    const answers = await Promise.all(
      Array.from({ length: 2000 }, () => heartbeat(client, 'flood', member.memberId, 1)),
    );
    assert.ok(answers.every((code) => code === ErrorCode.NONE));
    const description = await describeGroup(client, 'flood');
    assert.equal(description.groupState, 'Stable');
    assert.equal(description.members.length, 1);
  });
});

export type { TestBroker };
