/**
 * A tiny fake Kafka broker for recording what real clients send. It answers just enough for a
 * client to go through its produce, consume and consumer-group flows (one broker, which is also
 * every partition's leader and every group's coordinator; topics are created on first mention
 * or by CreateTopics; a group, classic or of the KIP-848 consumer protocol, has a single member,
 * its leader) and writes every request frame it receives (the bytes after the 4-byte size
 * prefix) to `<outDir>/<NN-api-name>-v<version>-<seq>.bin`.
 *
 * It binds 127.0.0.1 only, keeps everything in memory and is not a broker: no persistence, no
 * replication, no transactions, one member per group. Only record batches of magic 2 get their
 * offsets assigned; anything else is stored as it came.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import {
  ApiKey,
  ApiVersionsRequest,
  ApiVersionsResponse,
  apiDescriptor,
  ConsumerGroupHeartbeatRequest,
  ConsumerGroupHeartbeatResponse,
  CreateTopicsRequest,
  CreateTopicsResponse,
  DescribeGroupsRequest,
  DescribeGroupsResponse,
  ErrorCode,
  FetchRequest,
  FetchResponse,
  type FetchResponsePartitionDataInput,
  FindCoordinatorRequest,
  FindCoordinatorResponse,
  FrameDecoder,
  HeartbeatRequest,
  HeartbeatResponse,
  InitProducerIdRequest,
  InitProducerIdResponse,
  JoinGroupRequest,
  JoinGroupResponse,
  LeaveGroupRequest,
  LeaveGroupResponse,
  ListGroupsRequest,
  ListGroupsResponse,
  ListOffsetsRequest,
  ListOffsetsResponse,
  type MessageCodec,
  MetadataRequest,
  MetadataResponse,
  OffsetCommitRequest,
  OffsetCommitResponse,
  OffsetFetchRequest,
  OffsetFetchResponse,
  ProduceRequest,
  ProduceResponse,
  type RequestFrame,
  randomUuid,
  readRequestFrame,
  SyncGroupRequest,
  SyncGroupResponse,
  uuidToBase64,
  Writer,
  writeResponseFrame,
  ZERO_UUID,
} from '../../packages/protocol/src/index.ts';
import {
  RECORD_BATCH_HEADER_BYTES,
  RECORD_BATCH_MAGIC,
  readRecordBatchHeader,
  setBatchBaseOffset,
  setBatchPartitionLeaderEpoch,
} from '../../packages/protocol/src/records/index.ts';

export interface FakeBrokerOptions {
  /** Where the request frames go (created if missing). */
  outDir: string;
  /** 0 (the default) lets the system pick a free port. */
  port?: number;
  /** Partitions of an auto-created topic (default 1). */
  partitions?: number;
  /** Longest a Fetch with nothing to return is held, in ms (default 500). */
  maxFetchWaitMs?: number;
  /** The heartbeat interval ConsumerGroupHeartbeat answers give members, in ms (default 200). */
  consumerHeartbeatMs?: number;
  /** Called with one line per request and per notable event. */
  log?: (line: string) => void;
}

export interface FakeBroker {
  readonly host: string;
  readonly port: number;
  /** How many request frames were written. */
  readonly requestCount: number;
  /** Closes the listener and every connection. */
  close(): Promise<void>;
}

/** The APIs this broker answers, with the version range it advertises for each. */
const HANDLED_APIS: readonly number[] = [
  ApiKey.Produce,
  ApiKey.Fetch,
  ApiKey.ListOffsets,
  ApiKey.Metadata,
  ApiKey.OffsetCommit,
  ApiKey.OffsetFetch,
  ApiKey.FindCoordinator,
  ApiKey.JoinGroup,
  ApiKey.Heartbeat,
  ApiKey.LeaveGroup,
  ApiKey.SyncGroup,
  ApiKey.DescribeGroups,
  ApiKey.ListGroups,
  ApiKey.ApiVersions,
  ApiKey.CreateTopics,
  ApiKey.InitProducerId,
  ApiKey.ConsumerGroupHeartbeat,
];

const HOST = '127.0.0.1';
const NODE_ID = 0;
const CLUSTER_ID = uuidToBase64('b700b700-0000-4000-8000-000000000001');

interface PartitionLog {
  /** Stored batches, each with its base offset already rewritten. */
  batches: { baseOffset: bigint; lastOffset: bigint; maxTimestamp: bigint; bytes: Buffer }[];
  nextOffset: bigint;
}

interface Topic {
  name: string;
  id: string;
  partitions: PartitionLog[];
}

interface Group {
  /** `classic` (JoinGroup, SyncGroup…) or `consumer` (ConsumerGroupHeartbeat, KIP-848). */
  type: 'classic' | 'consumer';
  /** The generation (classic) or the group and member epoch (consumer). */
  generationId: number;
  /** The one member, '' when there is none. */
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  /** The member's metadata for the chosen protocol, from its JoinGroup. */
  memberMetadata: Buffer;
  protocolType: string;
  protocolName: string;
  /** The leader's assignment for its own member id, from the last SyncGroup. */
  assignment: Buffer;
  offsets: Map<string, { offset: bigint; leaderEpoch: number; metadata: string | null }>;
}

/** `ApiVersions` → `api-versions`, for file names. */
export function kebabApiName(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

/** The file name of the `seq`-th request frame of `apiKey` at `version`. */
export function frameFileName(apiKey: number, version: number, seq: number): string {
  const api = apiDescriptor(apiKey);
  const name = api === undefined ? 'unknown' : kebabApiName(api.name);
  return `${String(apiKey).padStart(2, '0')}-${name}-v${version}-${String(seq).padStart(4, '0')}.bin`;
}

export async function startFakeBroker(options: FakeBrokerOptions): Promise<FakeBroker> {
  const partitionCount = options.partitions ?? 1;
  const maxFetchWaitMs = options.maxFetchWaitMs ?? 500;
  const consumerHeartbeatMs = options.consumerHeartbeatMs ?? 200;
  const log = options.log ?? (() => {});
  mkdirSync(options.outDir, { recursive: true });

  const topics = new Map<string, Topic>();
  const topicsById = new Map<string, Topic>();
  const groups = new Map<string, Group>();
  const sockets = new Set<Socket>();
  let seq = 0;
  let nextProducerId = 1000n;
  let memberCounter = 0;
  let port = 0;

  /** The topic of that name, created (with `partitions`, or the default count) if missing. */
  function topic(name: string, partitions: number = partitionCount): Topic {
    let found = topics.get(name);
    if (found === undefined) {
      const logs: PartitionLog[] = [];
      for (let i = 0; i < partitions; i++) logs.push({ batches: [], nextOffset: 0n });
      found = { name, id: randomUuid(), partitions: logs };
      topics.set(name, found);
      topicsById.set(found.id, found);
      log(`created topic ${name} (${partitions} partitions)`);
    }
    return found;
  }

  function group(groupId: string): Group {
    let found = groups.get(groupId);
    if (found === undefined) {
      found = {
        type: 'classic',
        generationId: 0,
        memberId: '',
        groupInstanceId: null,
        clientId: '',
        memberMetadata: Buffer.alloc(0),
        protocolType: 'consumer',
        protocolName: '',
        assignment: Buffer.alloc(0),
        offsets: new Map(),
      };
      groups.set(groupId, found);
    }
    return found;
  }

  /** Appends a Produce request's records to a partition; returns the base offset. */
  function append(partition: PartitionLog, records: Buffer): bigint {
    const base = partition.nextOffset;
    let position = 0;
    while (position + 12 <= records.length) {
      const size = 12 + records.readInt32BE(position + 8);
      if (size < 12 || position + size > records.length) break;
      const bytes = Buffer.from(records.subarray(position, position + size));
      const magic = bytes.length > 16 ? bytes.readInt8(16) : -1;
      const baseOffset = partition.nextOffset;
      let lastOffset = baseOffset;
      let maxTimestamp = -1n;
      if (magic === RECORD_BATCH_MAGIC && bytes.length >= RECORD_BATCH_HEADER_BYTES) {
        const header = readRecordBatchHeader(bytes);
        setBatchBaseOffset(bytes, baseOffset);
        setBatchPartitionLeaderEpoch(bytes, 0);
        lastOffset = baseOffset + BigInt(header.lastOffsetDelta);
        maxTimestamp = header.maxTimestamp;
      } else {
        log(`stored a magic ${magic} message set without assigning offsets`);
      }
      partition.batches.push({ baseOffset, lastOffset, maxTimestamp, bytes });
      partition.nextOffset = lastOffset + 1n;
      position += size;
    }
    return base;
  }

  function metadataTopic(t: Topic) {
    return {
      errorCode: 0,
      name: t.name,
      topicId: t.id,
      isInternal: false,
      partitions: t.partitions.map((_, index) => ({
        errorCode: 0,
        partitionIndex: index,
        leaderId: NODE_ID,
        leaderEpoch: 0,
        replicaNodes: [NODE_ID],
        isrNodes: [NODE_ID],
        offlineReplicas: [],
      })),
      topicAuthorizedOperations: -2147483648,
    };
  }

  type Reply = { codec: MessageCodec<unknown, never>; value: unknown; version?: number };

  // biome-ignore lint/suspicious/noExplicitAny: codecs of different messages share this shape
  function reply<I>(codec: MessageCodec<any, I>, value: I, version?: number): Reply {
    const result: Reply = { codec: codec as MessageCodec<unknown, never>, value };
    if (version !== undefined) result.version = version;
    return result;
  }

  function delay(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  async function handle(frame: RequestFrame): Promise<Reply | undefined> {
    const { header, body } = frame;
    const version = header.requestApiVersion;
    switch (header.requestApiKey) {
      case ApiKey.ApiVersions: {
        const apiKeys = HANDLED_APIS.map((key) => {
          const api = apiDescriptor(key)!;
          return { apiKey: key, minVersion: api.minVersion, maxVersion: api.maxVersion };
        });
        const api = apiDescriptor(ApiKey.ApiVersions)!;
        if (version > api.maxVersion) {
          // Kafka answers an ApiVersions it cannot read with v0 and UNSUPPORTED_VERSION.
          return reply(
            ApiVersionsResponse,
            { errorCode: ErrorCode.UNSUPPORTED_VERSION, apiKeys },
            0,
          );
        }
        ApiVersionsRequest.decode(body, version);
        return reply(ApiVersionsResponse, { errorCode: 0, apiKeys, throttleTimeMs: 0 });
      }
      case ApiKey.Metadata: {
        const request = MetadataRequest.decode(body, version);
        let selected: Topic[];
        if (request.topics === null || (version === 0 && request.topics.length === 0)) {
          selected = [...topics.values()];
        } else {
          selected = request.topics.map((t) => {
            if (t.name !== null) return topic(t.name);
            return topicsById.get(t.topicId) ?? topic(`unknown-${t.topicId}`);
          });
        }
        return reply(MetadataResponse, {
          throttleTimeMs: 0,
          brokers: [{ nodeId: NODE_ID, host: HOST, port, rack: null }],
          clusterId: CLUSTER_ID,
          controllerId: NODE_ID,
          topics: selected.map(metadataTopic),
          clusterAuthorizedOperations: -2147483648,
        });
      }
      case ApiKey.Produce: {
        const request = ProduceRequest.decode(body, version);
        const responses = request.topicData.map((td) => {
          const t = topic(td.name);
          return {
            name: td.name,
            partitionResponses: td.partitionData.map((pd) => {
              const partition = t.partitions[pd.index];
              if (partition === undefined) {
                return {
                  index: pd.index,
                  errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
                  baseOffset: -1n,
                };
              }
              const baseOffset = append(partition, pd.records ?? Buffer.alloc(0));
              return {
                index: pd.index,
                errorCode: 0,
                baseOffset,
                logAppendTimeMs: -1n,
                logStartOffset: 0n,
              };
            }),
          };
        });
        if (request.acks === 0) return undefined;
        return reply(ProduceResponse, { responses, throttleTimeMs: 0 });
      }
      case ApiKey.InitProducerId: {
        InitProducerIdRequest.decode(body, version);
        const producerId = nextProducerId++;
        return reply(InitProducerIdResponse, {
          throttleTimeMs: 0,
          errorCode: 0,
          producerId,
          producerEpoch: 0,
        });
      }
      case ApiKey.ListOffsets: {
        const request = ListOffsetsRequest.decode(body, version);
        return reply(ListOffsetsResponse, {
          throttleTimeMs: 0,
          topics: request.topics.map((lt) => {
            const t = topic(lt.name);
            return {
              name: lt.name,
              partitions: lt.partitions.map((lp) => {
                const partition = t.partitions[lp.partitionIndex];
                if (partition === undefined) {
                  return {
                    partitionIndex: lp.partitionIndex,
                    errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
                  };
                }
                let offset: bigint;
                let timestamp = -1n;
                if (lp.timestamp === -2n) offset = 0n;
                else if (lp.timestamp === -1n) offset = partition.nextOffset;
                else {
                  const batch = partition.batches.find((b) => b.maxTimestamp >= lp.timestamp);
                  offset = batch === undefined ? -1n : batch.baseOffset;
                  if (batch !== undefined) timestamp = batch.maxTimestamp;
                }
                if (version === 0) {
                  return {
                    partitionIndex: lp.partitionIndex,
                    errorCode: 0,
                    oldStyleOffsets: offset >= 0n ? [offset] : [],
                  };
                }
                return {
                  partitionIndex: lp.partitionIndex,
                  errorCode: 0,
                  timestamp,
                  offset,
                  ...(version >= 4 ? { leaderEpoch: 0 } : {}),
                };
              }),
            };
          }),
        });
      }
      case ApiKey.Fetch: {
        const request = FetchRequest.decode(body, version);
        const build = () =>
          request.topics.map((ft) => {
            const t = version >= 13 ? topicsById.get(ft.topicId) : topic(ft.topic);
            return {
              topic: ft.topic,
              topicId: ft.topicId,
              partitions: ft.partitions.map((fp): FetchResponsePartitionDataInput => {
                const partition = t?.partitions[fp.partition];
                if (partition === undefined) {
                  return {
                    partitionIndex: fp.partition,
                    errorCode:
                      version >= 13
                        ? ErrorCode.UNKNOWN_TOPIC_ID
                        : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
                    highWatermark: -1n,
                    records: Buffer.alloc(0),
                  };
                }
                const common = {
                  partitionIndex: fp.partition,
                  highWatermark: partition.nextOffset,
                  lastStableOffset: partition.nextOffset,
                  logStartOffset: 0n,
                  abortedTransactions: null,
                  preferredReadReplica: -1,
                };
                if (fp.fetchOffset < 0n || fp.fetchOffset > partition.nextOffset) {
                  return {
                    ...common,
                    errorCode: ErrorCode.OFFSET_OUT_OF_RANGE,
                    records: Buffer.alloc(0),
                  };
                }
                const chunks: Buffer[] = [];
                let bytes = 0;
                for (const batch of partition.batches) {
                  if (batch.lastOffset < fp.fetchOffset) continue;
                  if (bytes > 0 && bytes + batch.bytes.length > fp.partitionMaxBytes) break;
                  chunks.push(batch.bytes);
                  bytes += batch.bytes.length;
                }
                return { ...common, errorCode: 0, records: Buffer.concat(chunks) };
              }),
            };
          });
        let responses = build();
        const empty = responses.every((r) =>
          r.partitions.every((p) => p.errorCode === 0 && (p.records?.length ?? 0) === 0),
        );
        if (empty && request.maxWaitMs > 0) {
          await delay(Math.min(request.maxWaitMs, maxFetchWaitMs));
          responses = build();
        }
        return reply(FetchResponse, { throttleTimeMs: 0, errorCode: 0, sessionId: 0, responses });
      }
      case ApiKey.FindCoordinator: {
        const request = FindCoordinatorRequest.decode(body, version);
        if (version >= 4) {
          return reply(FindCoordinatorResponse, {
            throttleTimeMs: 0,
            coordinators: request.coordinatorKeys.map((key) => ({
              key,
              nodeId: NODE_ID,
              host: HOST,
              port,
              errorCode: 0,
              errorMessage: null,
            })),
          });
        }
        return reply(FindCoordinatorResponse, {
          throttleTimeMs: 0,
          errorCode: 0,
          errorMessage: null,
          nodeId: NODE_ID,
          host: HOST,
          port,
        });
      }
      case ApiKey.JoinGroup: {
        const request = JoinGroupRequest.decode(body, version);
        const g = group(request.groupId);
        const protocol = request.protocols[0];
        if (request.memberId === '' && version >= 4) {
          // As Kafka does since 2.2 (KIP-394): hand out a member id and ask the client to rejoin.
          const memberId = `${header.clientId ?? 'member'}-${++memberCounter}`;
          return reply(JoinGroupResponse, {
            throttleTimeMs: 0,
            errorCode: ErrorCode.MEMBER_ID_REQUIRED,
            generationId: -1,
            protocolType: null,
            protocolName: version >= 7 ? null : '',
            leader: '',
            memberId,
            members: [],
          });
        }
        if (protocol === undefined) {
          return reply(JoinGroupResponse, {
            throttleTimeMs: 0,
            errorCode: ErrorCode.INCONSISTENT_GROUP_PROTOCOL,
            protocolName: version >= 7 ? null : '',
            leader: '',
            memberId: request.memberId,
            members: [],
          });
        }
        const memberId =
          request.memberId === ''
            ? `${header.clientId ?? 'member'}-${++memberCounter}`
            : request.memberId;
        g.type = 'classic';
        g.generationId += 1;
        g.memberId = memberId;
        g.groupInstanceId = request.groupInstanceId;
        g.clientId = header.clientId ?? '';
        g.memberMetadata = Buffer.from(protocol.metadata);
        g.protocolType = request.protocolType;
        g.protocolName = protocol.name;
        return reply(JoinGroupResponse, {
          throttleTimeMs: 0,
          errorCode: 0,
          generationId: g.generationId,
          protocolType: request.protocolType,
          protocolName: protocol.name,
          leader: memberId,
          skipAssignment: false,
          memberId,
          members: [
            { memberId, groupInstanceId: request.groupInstanceId, metadata: protocol.metadata },
          ],
        });
      }
      case ApiKey.SyncGroup: {
        const request = SyncGroupRequest.decode(body, version);
        const g = group(request.groupId);
        const own = request.assignments.find((a) => a.memberId === request.memberId);
        if (own !== undefined) g.assignment = Buffer.from(own.assignment);
        return reply(SyncGroupResponse, {
          throttleTimeMs: 0,
          errorCode: 0,
          protocolType: g.protocolType,
          protocolName: g.protocolName,
          assignment: g.assignment,
        });
      }
      case ApiKey.Heartbeat: {
        HeartbeatRequest.decode(body, version);
        return reply(HeartbeatResponse, { throttleTimeMs: 0, errorCode: 0 });
      }
      case ApiKey.LeaveGroup: {
        const request = LeaveGroupRequest.decode(body, version);
        const g = group(request.groupId);
        g.memberId = '';
        return reply(LeaveGroupResponse, {
          throttleTimeMs: 0,
          errorCode: 0,
          ...(version >= 3
            ? {
                members: request.members.map((m) => ({
                  memberId: m.memberId,
                  groupInstanceId: m.groupInstanceId,
                  errorCode: 0,
                })),
              }
            : {}),
        });
      }
      case ApiKey.DescribeGroups: {
        const request = DescribeGroupsRequest.decode(body, version);
        return reply(DescribeGroupsResponse, {
          throttleTimeMs: 0,
          groups: request.groups.map((groupId) => {
            const g = groups.get(groupId);
            if (g === undefined) {
              return {
                errorCode: 0,
                groupId,
                groupState: 'Dead',
                protocolType: '',
                protocolData: '',
                members: [],
                authorizedOperations: -2147483648,
              };
            }
            const stable = g.memberId !== '';
            return {
              errorCode: 0,
              groupId,
              groupState: stable ? 'Stable' : 'Empty',
              protocolType: g.protocolType,
              protocolData: stable ? g.protocolName : '',
              members: stable
                ? [
                    {
                      memberId: g.memberId,
                      groupInstanceId: g.groupInstanceId,
                      clientId: g.clientId,
                      clientHost: `/${HOST}`,
                      memberMetadata: g.memberMetadata,
                      memberAssignment: g.assignment,
                    },
                  ]
                : [],
              authorizedOperations: -2147483648,
            };
          }),
        });
      }
      case ApiKey.ListGroups: {
        ListGroupsRequest.decode(body, version);
        return reply(ListGroupsResponse, {
          throttleTimeMs: 0,
          errorCode: 0,
          groups: [...groups].map(([groupId, g]) => ({
            groupId,
            protocolType: g.protocolType,
            groupState: g.memberId !== '' ? 'Stable' : 'Empty',
            groupType: g.type,
          })),
        });
      }
      case ApiKey.ConsumerGroupHeartbeat: {
        // KIP-848: the member joins with epoch 0, gets every partition of the topics it
        // subscribes to, heartbeats with its epoch, and leaves with epoch -1 (or -2, static).
        const request = ConsumerGroupHeartbeatRequest.decode(body, version);
        const g = group(request.groupId);
        g.type = 'consumer';
        if (request.memberEpoch < 0) {
          g.memberId = '';
          return reply(ConsumerGroupHeartbeatResponse, {
            throttleTimeMs: 0,
            errorCode: 0,
            errorMessage: null,
            memberId: request.memberId,
            memberEpoch: request.memberEpoch,
            heartbeatIntervalMs: 0,
            assignment: null,
          });
        }
        const joining = request.memberEpoch === 0;
        if (!joining && (request.memberId !== g.memberId || request.memberEpoch > g.generationId)) {
          return reply(ConsumerGroupHeartbeatResponse, {
            throttleTimeMs: 0,
            errorCode: ErrorCode.FENCED_MEMBER_EPOCH,
            errorMessage: null,
            memberId: request.memberId,
            memberEpoch: -1,
            heartbeatIntervalMs: consumerHeartbeatMs,
            assignment: null,
          });
        }
        if (joining) {
          g.memberId =
            request.memberId !== ''
              ? request.memberId
              : `${header.clientId ?? 'member'}-${++memberCounter}`;
          g.generationId += 1;
          g.groupInstanceId = request.instanceId;
          g.clientId = header.clientId ?? '';
        }
        // A full heartbeat (on joining, or when the subscription changes) names the topics;
        // the answer then carries the assignment, every partition of them.
        const subscribed = request.subscribedTopicNames;
        return reply(ConsumerGroupHeartbeatResponse, {
          throttleTimeMs: 0,
          errorCode: 0,
          errorMessage: null,
          memberId: g.memberId,
          memberEpoch: g.generationId,
          heartbeatIntervalMs: consumerHeartbeatMs,
          assignment:
            subscribed === null
              ? null
              : {
                  topicPartitions: subscribed.map((name) => {
                    const t = topic(name);
                    return { topicId: t.id, partitions: t.partitions.map((_, i) => i) };
                  }),
                },
        });
      }
      case ApiKey.CreateTopics: {
        const request = CreateTopicsRequest.decode(body, version);
        return reply(CreateTopicsResponse, {
          throttleTimeMs: 0,
          topics: request.topics.map((ct) => {
            if (topics.has(ct.name)) {
              return {
                name: ct.name,
                errorCode: ErrorCode.TOPIC_ALREADY_EXISTS,
                errorMessage: `Topic '${ct.name}' already exists.`,
              };
            }
            const partitions =
              ct.numPartitions > 0
                ? ct.numPartitions
                : ct.assignments.length > 0
                  ? ct.assignments.length
                  : partitionCount;
            const t = request.validateOnly ? { id: ZERO_UUID } : topic(ct.name, partitions);
            return {
              name: ct.name,
              topicId: t.id,
              errorCode: 0,
              errorMessage: null,
              numPartitions: partitions,
              replicationFactor: 1,
              configs: [],
            };
          }),
        });
      }
      case ApiKey.OffsetCommit: {
        const request = OffsetCommitRequest.decode(body, version);
        const g = group(request.groupId);
        return reply(OffsetCommitResponse, {
          throttleTimeMs: 0,
          topics: request.topics.map((ct) => ({
            name: ct.name,
            partitions: ct.partitions.map((cp) => {
              g.offsets.set(`${ct.name}\u0000${cp.partitionIndex}`, {
                offset: cp.committedOffset,
                leaderEpoch: cp.committedLeaderEpoch,
                metadata: cp.committedMetadata,
              });
              return { partitionIndex: cp.partitionIndex, errorCode: 0 };
            }),
          })),
        });
      }
      case ApiKey.OffsetFetch: {
        const request = OffsetFetchRequest.decode(body, version);
        const committed = (
          groupId: string,
          asked: readonly { name: string; partitionIndexes: readonly number[] }[] | null,
        ) => {
          const g = group(groupId);
          const wanted =
            asked ??
            [...topics.values()].map((t) => ({
              name: t.name,
              partitionIndexes: t.partitions.map((_, i) => i),
            }));
          return wanted.map((ot) => ({
            name: ot.name,
            partitions: ot.partitionIndexes.map((index) => {
              const stored = g.offsets.get(`${ot.name}\u0000${index}`);
              return {
                partitionIndex: index,
                committedOffset: stored?.offset ?? -1n,
                committedLeaderEpoch: stored?.leaderEpoch ?? -1,
                metadata: stored?.metadata ?? '',
                errorCode: 0,
              };
            }),
          }));
        };
        if (version >= 8) {
          return reply(OffsetFetchResponse, {
            throttleTimeMs: 0,
            groups: request.groups.map((rg) => ({
              groupId: rg.groupId,
              topics: committed(rg.groupId, rg.topics),
              errorCode: 0,
            })),
          });
        }
        return reply(OffsetFetchResponse, {
          throttleTimeMs: 0,
          topics: committed(request.groupId, request.topics),
          errorCode: 0,
        });
      }
      default:
        return undefined;
    }
  }

  function serve(socket: Socket): void {
    sockets.add(socket);
    const decoder = new FrameDecoder({ maxFrameBytes: 100 * 1024 * 1024 });
    let queue: Promise<void> = Promise.resolve();
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', (error) => log(`${remote}: ${error.message}`));
    socket.on('data', (chunk: Buffer) => {
      let frames: Buffer[];
      try {
        frames = decoder.push(chunk);
      } catch (error) {
        log(`${remote}: ${(error as Error).message}; closing`);
        socket.destroy();
        return;
      }
      for (const raw of frames) {
        // Copy: the decoder's frames may be views into a larger chunk.
        const frame = Buffer.from(raw);
        const apiKey = frame.length >= 4 ? frame.readInt16BE(0) : -1;
        const apiVersion = frame.length >= 4 ? frame.readInt16BE(2) : -1;
        const number = ++seq;
        writeFileSync(join(options.outDir, frameFileName(apiKey, apiVersion, number)), frame);
        queue = queue
          .then(async () => {
            if (socket.destroyed) return;
            let request: RequestFrame;
            try {
              request = readRequestFrame(frame);
            } catch (error) {
              log(`${remote}: unreadable request header: ${(error as Error).message}; closing`);
              socket.destroy();
              return;
            }
            const { header } = request;
            const name = request.api?.name ?? `api ${apiKey}`;
            log(
              `#${number} ${header.clientId ?? '-'} ${name} v${apiVersion} corr ${header.correlationId}`,
            );
            if (!HANDLED_APIS.includes(apiKey)) {
              log(`${remote}: ${name} is not handled; closing`);
              socket.destroy();
              return;
            }
            let answer: Reply | undefined;
            try {
              answer = await handle(request);
            } catch (error) {
              log(`${remote}: ${name} v${apiVersion} failed: ${(error as Error).stack}; closing`);
              socket.destroy();
              return;
            }
            if (answer === undefined) return;
            const responseVersion = answer.version ?? apiVersion;
            const writer = new Writer();
            try {
              writeResponseFrame(
                writer,
                { apiKey, apiVersion: responseVersion, correlationId: header.correlationId },
                (w) => answer.codec.write(w, answer.value as never, responseVersion),
              );
            } catch (error) {
              log(`${name} v${responseVersion} response: ${(error as Error).stack}; closing`);
              socket.destroy();
              return;
            }
            if (!socket.destroyed) socket.write(writer.toBuffer());
          })
          .catch((error: unknown) => {
            log(`${remote}: ${(error as Error).stack}; closing`);
            socket.destroy();
          });
      }
    });
  }

  const server: Server = createServer(serve);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  port = address.port;

  return {
    host: HOST,
    get port() {
      return port;
    },
    get requestCount() {
      return seq;
    },
    close() {
      return new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      });
    },
  };
}
