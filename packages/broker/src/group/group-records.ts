/**
 * The records of `__consumer_offsets`, in Kafka's own formats (`../shared/kafka-spec/internal`):
 * a key and a value, each an int16 schema version followed by the struct. Key version 0/1 is an
 * offset commit, 2 a classic group's metadata; versions 3 and up belong to KIP-848 groups and
 * are skipped. A null value (tombstone) deletes the key, and compaction keeps the last value.
 */
import {
  GroupMetadataKey as GroupMetadataKeyCodec,
  type GroupMetadataValue,
  GroupMetadataValue as GroupMetadataValueCodec,
  type MessageCodec,
  OffsetCommitKey as OffsetCommitKeyCodec,
  type OffsetCommitValue,
  OffsetCommitValue as OffsetCommitValueCodec,
  Reader,
  Writer,
} from '@brook/protocol';

/** The key versions Kafka writes (and reads). */
const OFFSET_COMMIT_KEY_VERSION = 1;
const GROUP_METADATA_KEY_VERSION = 2;
/** Value versions Kafka 3.x writes: v3 normally, v1 when an explicit expiry is set. */
const OFFSET_COMMIT_VALUE_VERSION = 3;
const OFFSET_COMMIT_VALUE_WITH_EXPIRY_VERSION = 1;
const GROUP_METADATA_VALUE_VERSION = 3;

function versioned<Input>(codec: MessageCodec<unknown, Input>, value: Input, version: number) {
  const writer = new Writer();
  writer.writeInt16(version);
  codec.write(writer, value, version);
  return writer.toBuffer();
}

/** A committed offset as the coordinator keeps it. */
export interface CommittedOffset {
  readonly offset: bigint;
  readonly leaderEpoch: number;
  readonly metadata: string;
  readonly commitTimestampMs: number;
  /** Set only by OffsetCommit v2-v4 with an explicit retention time. */
  readonly expireTimestampMs: number | undefined;
}

export function offsetCommitKey(group: string, topic: string, partition: number): Buffer {
  return versioned(OffsetCommitKeyCodec, { group, topic, partition }, OFFSET_COMMIT_KEY_VERSION);
}

export function offsetCommitValue(offset: CommittedOffset): Buffer {
  const withExpiry = offset.expireTimestampMs !== undefined;
  return versioned(
    OffsetCommitValueCodec,
    {
      offset: offset.offset,
      leaderEpoch: offset.leaderEpoch,
      metadata: offset.metadata,
      commitTimestamp: BigInt(offset.commitTimestampMs),
      expireTimestamp: BigInt(offset.expireTimestampMs ?? -1),
    },
    withExpiry ? OFFSET_COMMIT_VALUE_WITH_EXPIRY_VERSION : OFFSET_COMMIT_VALUE_VERSION,
  );
}

export function groupMetadataKey(group: string): Buffer {
  return versioned(GroupMetadataKeyCodec, { group }, GROUP_METADATA_KEY_VERSION);
}

export interface StoredMember {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly clientId: string;
  readonly clientHost: string;
  readonly rebalanceTimeoutMs: number;
  readonly sessionTimeoutMs: number;
  readonly subscription: Uint8Array;
  readonly assignment: Uint8Array;
}

export interface StoredGroup {
  readonly protocolType: string;
  readonly generationId: number;
  readonly protocolName: string | null;
  readonly leaderId: string | null;
  readonly currentStateTimestampMs: number;
  readonly members: readonly StoredMember[];
}

export function groupMetadataValue(group: StoredGroup): Buffer {
  return versioned(
    GroupMetadataValueCodec,
    {
      protocolType: group.protocolType,
      generation: group.generationId,
      protocol: group.protocolName,
      leader: group.leaderId,
      currentStateTimestamp: BigInt(group.currentStateTimestampMs),
      members: group.members.map((member) => ({
        memberId: member.memberId,
        groupInstanceId: member.groupInstanceId,
        clientId: member.clientId,
        clientHost: member.clientHost,
        rebalanceTimeout: member.rebalanceTimeoutMs,
        sessionTimeout: member.sessionTimeoutMs,
        subscription: member.subscription,
        assignment: member.assignment,
      })),
    },
    GROUP_METADATA_VALUE_VERSION,
  );
}

/** One record of the topic, decoded; `undefined` values are tombstones. */
export type OffsetsTopicRecord =
  | {
      readonly type: 'offset';
      readonly group: string;
      readonly topic: string;
      readonly partition: number;
      readonly value: CommittedOffset | undefined;
    }
  | { readonly type: 'group'; readonly group: string; readonly value: StoredGroup | undefined }
  | { readonly type: 'other'; readonly keyVersion: number };

function readVersioned<T>(codec: MessageCodec<T, unknown>, bytes: Buffer): T {
  const reader = new Reader(bytes);
  const version = reader.readInt16();
  // A newer version than ours: Kafka reads the fields it knows (new fields are tagged).
  return codec.decode(reader, Math.min(version, codec.maxVersion));
}

/** Decodes a record of `__consumer_offsets`; throws on bytes that are not Kafka's format. */
export function decodeOffsetsTopicRecord(
  key: Buffer | null,
  value: Buffer | null,
): OffsetsTopicRecord {
  if (key === null || key.length < 2) throw new Error('offsets topic record without a key');
  const keyVersion = key.readInt16BE(0);
  if (keyVersion === 0 || keyVersion === 1) {
    const decoded = readVersioned(OffsetCommitKeyCodec, key);
    let committed: CommittedOffset | undefined;
    if (value !== null) {
      const stored: OffsetCommitValue = readVersioned(OffsetCommitValueCodec, value);
      committed = {
        offset: stored.offset,
        leaderEpoch: stored.leaderEpoch,
        metadata: stored.metadata,
        commitTimestampMs: Number(stored.commitTimestamp),
        expireTimestampMs: stored.expireTimestamp < 0n ? undefined : Number(stored.expireTimestamp),
      };
    }
    return {
      type: 'offset',
      group: decoded.group,
      topic: decoded.topic,
      partition: decoded.partition,
      value: committed,
    };
  }
  if (keyVersion === 2) {
    const decoded = readVersioned(GroupMetadataKeyCodec, key);
    let group: StoredGroup | undefined;
    if (value !== null) {
      const stored: GroupMetadataValue = readVersioned(GroupMetadataValueCodec, value);
      group = {
        protocolType: stored.protocolType,
        generationId: stored.generation,
        protocolName: stored.protocol,
        leaderId: stored.leader,
        currentStateTimestampMs: Number(stored.currentStateTimestamp),
        members: stored.members.map((member) => ({
          memberId: member.memberId,
          groupInstanceId: member.groupInstanceId,
          clientId: member.clientId,
          clientHost: member.clientHost,
          rebalanceTimeoutMs: member.rebalanceTimeout,
          sessionTimeoutMs: member.sessionTimeout,
          subscription: member.subscription,
          assignment: member.assignment,
        })),
      };
    }
    return { type: 'group', group: decoded.group, value: group };
  }
  return { type: 'other', keyVersion };
}

/** Java's `String.hashCode`, which Kafka uses to place a group in a partition. */
export function javaStringHashCode(text: string): number {
  let hash = 0;
  for (let index = 0; index < text.length; index++) {
    hash = (Math.imul(hash, 31) + text.charCodeAt(index)) | 0;
  }
  return hash;
}

/** The `__consumer_offsets` partition of a group: `Utils.abs(groupId.hashCode) % partitions`. */
export function offsetsPartitionFor(groupId: string, partitionCount: number): number {
  const hash = javaStringHashCode(groupId);
  const abs = hash === -2147483648 ? 0 : Math.abs(hash);
  return abs % partitionCount;
}
