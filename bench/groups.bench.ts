/**
 * Group coordinator benchmark, against a `brook serve` child process:
 *
 * 1. Rebalance: a group of 50 members over a 500-partition topic (range assignment computed by
 *    the leader, as a Java or librdkafka leader does), `group.initial.rebalance.delay.ms=0`.
 *    One member leaves and joins again; the figure is the time from its JoinGroup to every
 *    member holding its new assignment (SyncGroup answered). Members heartbeat every
 *    HEARTBEAT_MS, which bounds how soon they learn of the rebalance; that share is printed
 *    apart. Members speak the protocol directly (Brook's codecs), so the figure is the
 *    coordinator's, not a client library's.
 * 2. Offset commits: 100 groups commit at once (simple consumers, one partition each, 16
 *    commits in flight per group), for COMMIT_SECONDS. Next to it, in the same run, the same
 *    number of single-record acks=1 produce requests to the same broker: a commit is an
 *    append to `__consumer_offsets`, so that is its reference cost.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ApiKey,
  ConsumerProtocolAssignment,
  ConsumerProtocolSubscription,
  CreateTopicsRequest,
  CreateTopicsResponse,
  ErrorCode,
  encodeRecordBatch,
  FindCoordinatorRequest,
  FindCoordinatorResponse,
  HeartbeatRequest,
  HeartbeatResponse,
  JoinGroupRequest,
  JoinGroupResponse,
  LeaveGroupRequest,
  LeaveGroupResponse,
  OffsetCommitRequest,
  OffsetCommitResponse,
  ProduceRequest,
  ProduceResponse,
  SyncGroupRequest,
  SyncGroupResponse,
  Writer,
} from '@brook/protocol';
import { RawClient } from '../packages/broker/test/helpers.ts';

import { spawnBrookServe } from './serve.ts';

const MEMBERS = Number(process.env.BROOK_BENCH_MEMBERS ?? 50);
const PARTITIONS = Number(process.env.BROOK_BENCH_GROUP_PARTITIONS ?? 500);
const HEARTBEAT_MS = 100;
const ROUNDS = 5;
const COMMIT_GROUPS = 100;
const COMMIT_SECONDS = 5;
const IN_FLIGHT = 16;
const TOPIC = 'rebalance';

function startBroker(dataDirectory: string) {
  return spawnBrookServe({
    dataDirectory,
    settings: { 'group.initial.rebalance.delay.ms': '0' },
  });
}

function subscription(): Buffer {
  const writer = new Writer();
  writer.writeInt16(0);
  ConsumerProtocolSubscription.write(writer, { topics: [TOPIC], userData: null }, 0);
  return writer.toBuffer();
}

/** The range assignor: each member a contiguous run of partitions. */
function rangeAssignment(memberIds: string[]): Map<string, Buffer> {
  const sorted = [...memberIds].sort();
  const per = Math.floor(PARTITIONS / sorted.length);
  const extra = PARTITIONS % sorted.length;
  const result = new Map<string, Buffer>();
  let next = 0;
  sorted.forEach((memberId, index) => {
    const count = per + (index < extra ? 1 : 0);
    const partitions = Array.from({ length: count }, (_, i) => next + i);
    next += count;
    const writer = new Writer();
    writer.writeInt16(0);
    ConsumerProtocolAssignment.write(
      writer,
      { assignedPartitions: [{ topic: TOPIC, partitions }], userData: null },
      0,
    );
    result.set(memberId, writer.toBuffer());
  });
  return result;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A group member speaking the classic protocol: join, sync, heartbeat, rejoin when told. */
class Member {
  memberId = '';
  generationId = -1;
  assignedGeneration = -1;
  private stopped = false;
  private rejoin = true;
  /** Resolves when the member next holds an assignment of a generation above `after`. */
  private waiters: { after: number; resolve: (at: number) => void }[] = [];

  private readonly client: RawClient;
  private readonly groupId: string;

  constructor(client: RawClient, groupId: string) {
    this.client = client;
    this.groupId = groupId;
  }

  assigned(after: number): Promise<number> {
    return new Promise((resolve) => this.waiters.push({ after, resolve }));
  }

  async run(): Promise<void> {
    while (!this.stopped) {
      if (this.rejoin) await this.joinAndSync();
      else {
        const { errorCode } = await this.client.request(
          ApiKey.Heartbeat,
          4,
          HeartbeatRequest,
          HeartbeatResponse,
          {
            groupId: this.groupId,
            generationId: this.generationId,
            memberId: this.memberId,
            groupInstanceId: null,
          },
        );
        if (errorCode !== ErrorCode.NONE) this.rejoin = true;
        else await sleep(HEARTBEAT_MS);
      }
    }
  }

  private async joinAndSync(): Promise<void> {
    const join = (memberId: string) =>
      this.client.request(ApiKey.JoinGroup, 9, JoinGroupRequest, JoinGroupResponse, {
        groupId: this.groupId,
        sessionTimeoutMs: 30_000,
        rebalanceTimeoutMs: 30_000,
        memberId,
        protocolType: 'consumer',
        protocols: [{ name: 'range', metadata: subscription() }],
      });
    let joined = await join(this.memberId);
    if (joined.errorCode === ErrorCode.MEMBER_ID_REQUIRED) joined = await join(joined.memberId);
    if (joined.errorCode !== ErrorCode.NONE) {
      if (joined.errorCode === ErrorCode.UNKNOWN_MEMBER_ID) this.memberId = '';
      return;
    }
    this.memberId = joined.memberId;
    this.generationId = joined.generationId;
    const assignments =
      joined.leader === joined.memberId
        ? [...rangeAssignment(joined.members.map((m) => m.memberId))].map(
            ([memberId, assignment]) => ({ memberId, assignment }),
          )
        : [];
    const synced = await this.client.request(
      ApiKey.SyncGroup,
      5,
      SyncGroupRequest,
      SyncGroupResponse,
      {
        groupId: this.groupId,
        generationId: joined.generationId,
        memberId: this.memberId,
        groupInstanceId: null,
        protocolType: 'consumer',
        protocolName: 'range',
        assignments,
      },
    );
    if (synced.errorCode !== ErrorCode.NONE) return;
    this.rejoin = false;
    this.assignedGeneration = joined.generationId;
    const now = performance.now();
    this.waiters = this.waiters.filter((waiter) => {
      if (joined.generationId <= waiter.after) return true;
      waiter.resolve(now);
      return false;
    });
  }

  async leave(): Promise<void> {
    this.stopped = true;
    await this.client.request(ApiKey.LeaveGroup, 5, LeaveGroupRequest, LeaveGroupResponse, {
      groupId: this.groupId,
      members: [{ memberId: this.memberId, groupInstanceId: null }],
    });
  }
}

async function rebalanceBenchmark(port: number): Promise<void> {
  const admin = await RawClient.connect(port);
  await admin.request(ApiKey.CreateTopics, 7, CreateTopicsRequest, CreateTopicsResponse, {
    topics: [
      {
        name: TOPIC,
        numPartitions: PARTITIONS,
        replicationFactor: 1,
        assignments: [],
        configs: [],
      },
    ],
    timeoutMs: 30_000,
    validateOnly: false,
  });
  await admin.request(ApiKey.FindCoordinator, 4, FindCoordinatorRequest, FindCoordinatorResponse, {
    keyType: 0,
    coordinatorKeys: ['bench'],
  });
  const members: Member[] = [];
  const runs: Promise<void>[] = [];
  const add = async () => {
    const member = new Member(await RawClient.connect(port), 'bench');
    members.push(member);
    runs.push(member.run());
    return member;
  };
  const startedMs = performance.now();
  for (let i = 0; i < MEMBERS; i++) await add();
  const settle = async () => {
    for (;;) {
      const generation = Math.max(...members.map((m) => m.assignedGeneration));
      if (
        generation > 0 &&
        members.every((m) => m.assignedGeneration === generation && m.generationId === generation)
      )
        return generation;
      await sleep(20);
    }
  };
  await settle();
  console.log(
    `  ${MEMBERS} members joining one by one, to all assigned: ${(performance.now() - startedMs).toFixed(0)} ms`,
  );
  const times: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const leaving = members.shift()!;
    await leaving.leave();
    await settle();
    const generation = Math.max(...members.map((m) => m.assignedGeneration));
    const joinedMs = performance.now();
    const all = [...members.map((m) => m.assigned(generation))];
    const newcomer = await add();
    all.push(newcomer.assigned(generation));
    const done = await Promise.all(all);
    times.push(Math.max(...done) - joinedMs);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)]!;
  console.log(
    `  member joins a stable group of ${MEMBERS - 1} over ${PARTITIONS} partitions → all ${MEMBERS} assigned again: median ${median.toFixed(0)} ms (runs ${times.map((t) => t.toFixed(0)).join(', ')} ms; heartbeat interval ${HEARTBEAT_MS} ms, of which up to one interval is waiting for the next heartbeat)`,
  );
  for (const member of members) await member.leave();
  await Promise.allSettled(runs);
}

async function commitBenchmark(port: number): Promise<void> {
  const admin = await RawClient.connect(port);
  await admin.request(ApiKey.CreateTopics, 7, CreateTopicsRequest, CreateTopicsResponse, {
    topics: [
      {
        name: 'commits',
        numPartitions: COMMIT_GROUPS,
        replicationFactor: 1,
        assignments: [],
        configs: [],
      },
    ],
    timeoutMs: 30_000,
    validateOnly: false,
  });
  const clients = await Promise.all(
    Array.from({ length: COMMIT_GROUPS }, () => RawClient.connect(port)),
  );
  const loop = async (
    operation: (client: RawClient, index: number, n: bigint) => Promise<void>,
  ) => {
    const endMs = performance.now() + COMMIT_SECONDS * 1000;
    let count = 0;
    await Promise.all(
      clients.flatMap((client, index) =>
        Array.from({ length: IN_FLIGHT }, async () => {
          while (performance.now() < endMs) {
            await operation(client, index, BigInt(count));
            count++;
          }
        }),
      ),
    );
    return count / COMMIT_SECONDS;
  };
  const commits = await loop(async (client, index, n) => {
    const response = await client.request(
      ApiKey.OffsetCommit,
      8,
      OffsetCommitRequest,
      OffsetCommitResponse,
      {
        groupId: `group-${index}`,
        generationIdOrMemberEpoch: -1,
        memberId: '',
        groupInstanceId: null,
        topics: [
          {
            name: 'commits',
            partitions: [{ partitionIndex: index, committedOffset: n, committedMetadata: '' }],
          },
        ],
      },
    );
    if (response.topics[0]!.partitions[0]!.errorCode !== ErrorCode.NONE)
      throw new Error('commit failed');
  });
  const record = encodeRecordBatch({
    baseTimestamp: BigInt(Date.now()),
    records: [{ key: Buffer.alloc(40), value: Buffer.alloc(40) }],
  });
  const produces = await loop(async (client, index) => {
    const response = await client.request(ApiKey.Produce, 9, ProduceRequest, ProduceResponse, {
      transactionalId: null,
      acks: 1,
      timeoutMs: 30_000,
      topicData: [{ name: 'commits', partitionData: [{ index, records: Buffer.from(record) }] }],
    });
    if (response.responses[0]!.partitionResponses[0]!.errorCode !== ErrorCode.NONE)
      throw new Error('produce failed');
  });
  console.log(
    `  offset commits, ${COMMIT_GROUPS} groups at once: ${(commits / 1000).toFixed(1)} k commits/s   reference: single-record acks=1 produces, same connections: ${(produces / 1000).toFixed(1)} k requests/s`,
  );
  for (const client of [admin, ...clients]) client.close();
}

async function main(): Promise<void> {
  const directory = mkdtempSync(join(tmpdir(), 'brook-bench-groups-'));
  const { child, port } = await startBroker(directory);
  try {
    console.log(`group coordinator (node ${process.version}, ${new Date().toISOString()})`);
    await rebalanceBenchmark(port);
    await commitBenchmark(port);
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    rmSync(directory, { recursive: true, force: true });
  }
}

await main();
