/**
 * The consumer protocol's member metadata (protocol type "consumer"): a member's subscription in
 * JoinGroup and its assignment in SyncGroup, each an int16 version then the struct. A version
 * newer than ours is read as our newest (later versions only add fields at the end), as Kafka's
 * clients do. An empty assignment (a SyncGroup answer without one) is no partitions.
 */
import {
  ConsumerProtocolAssignment,
  ConsumerProtocolSubscription,
  ProtocolDecodeError,
  Reader,
  Writer,
} from '@brook/protocol';
import { addTo, comparePartitions, type TopicPartition } from './types.ts';

export const CONSUMER_PROTOCOL_TYPE = 'consumer';

/** The subscription version Brook sends (3: owned partitions, generation, rack). */
export const SUBSCRIPTION_VERSION = 3;

export interface MemberSubscription {
  readonly version: number;
  readonly topics: readonly string[];
  readonly userData: Buffer | null;
  readonly ownedPartitions: readonly TopicPartition[];
  /** -1 when not sent (versions before 2) or unknown. */
  readonly generationId: number;
  readonly rackId: string | null;
}

export interface MemberAssignment {
  readonly version: number;
  readonly partitions: readonly TopicPartition[];
  readonly userData: Buffer | null;
}

/** Partitions grouped by topic, topics and partitions sorted (the wire form of both structs). */
export function groupByTopic(
  partitions: readonly TopicPartition[],
): { topic: string; partitions: number[] }[] {
  const byTopic = new Map<string, number[]>();
  for (const { topic, partition } of [...partitions].sort(comparePartitions)) {
    addTo(byTopic, topic, partition);
  }
  return [...byTopic].map(([topic, list]) => ({ topic, partitions: list }));
}

function flatten(groups: readonly { topic: string; partitions: readonly number[] }[]) {
  return groups.flatMap((group) =>
    group.partitions.map((partition) => ({ topic: group.topic, partition })),
  );
}

export function encodeSubscription(
  subscription: Omit<MemberSubscription, 'version'>,
  version: number = SUBSCRIPTION_VERSION,
): Buffer {
  const writer = new Writer();
  writer.writeInt16(version);
  ConsumerProtocolSubscription.write(
    writer,
    {
      topics: [...subscription.topics].sort(),
      userData: subscription.userData,
      ...(version >= 1 ? { ownedPartitions: groupByTopic(subscription.ownedPartitions) } : {}),
      ...(version >= 2 ? { generationId: subscription.generationId } : {}),
      ...(version >= 3 ? { rackId: subscription.rackId } : {}),
    },
    version,
  );
  return writer.toBuffer();
}

function readVersion(bytes: Uint8Array, what: string): { reader: Reader; version: number } {
  const reader = new Reader(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  const version = reader.readInt16();
  if (version < 0) throw new ProtocolDecodeError(`${what} has negative version ${version}`);
  return { reader, version };
}

export function decodeSubscription(bytes: Uint8Array): MemberSubscription {
  const { reader, version } = readVersion(bytes, 'consumer subscription');
  const decoded = ConsumerProtocolSubscription.decode(
    reader,
    Math.min(version, ConsumerProtocolSubscription.maxVersion),
  );
  return {
    version,
    topics: decoded.topics,
    userData: decoded.userData,
    ownedPartitions: flatten(decoded.ownedPartitions),
    generationId: decoded.generationId,
    rackId: decoded.rackId,
  };
}

export function encodeAssignment(
  partitions: readonly TopicPartition[],
  userData: Buffer | null = null,
  version = 0,
): Buffer {
  const writer = new Writer();
  writer.writeInt16(version);
  ConsumerProtocolAssignment.write(
    writer,
    { assignedPartitions: groupByTopic(partitions), userData },
    version,
  );
  return writer.toBuffer();
}

export function decodeAssignment(bytes: Uint8Array): MemberAssignment {
  if (bytes.byteLength === 0) return { version: 0, partitions: [], userData: null };
  const { reader, version } = readVersion(bytes, 'consumer assignment');
  const decoded = ConsumerProtocolAssignment.decode(
    reader,
    Math.min(version, ConsumerProtocolAssignment.maxVersion),
  );
  return { version, partitions: flatten(decoded.assignedPartitions), userData: decoded.userData };
}
