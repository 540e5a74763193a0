/**
 * Control records: the single record of a control batch (attributes bit 5). Consumers act on
 * them and never hand them to applications. The key is `version int16, type int16`; for the
 * transaction markers (abort = 0, commit = 1) the value is `version int16, coordinatorEpoch
 * int32`. KRaft uses further types for its own log; they are decoded as keys, values untouched.
 */
import { ProtocolDecodeError, ProtocolEncodeError } from '../errors/brook-error.ts';
import type { CompressionType } from './compression/codec.ts';
import { encodeRecordBatch, NO_PARTITION_LEADER_EPOCH, type RecordBatch } from './record-batch.ts';

export const ControlRecordType = {
  abort: 0,
  commit: 1,
  leaderChange: 2,
  snapshotHeader: 3,
  snapshotFooter: 4,
  kraftVersion: 5,
  kraftVoters: 6,
} as const;
export type ControlRecordType = (typeof ControlRecordType)[keyof typeof ControlRecordType];

export const CONTROL_RECORD_KEY_VERSION = 0;
export const END_TRANSACTION_MARKER_VERSION = 0;

export interface ControlRecordKey {
  version: number;
  /** A ControlRecordType value, or an id this code does not know. */
  type: number;
}

export interface EndTransactionMarker {
  version: number;
  coordinatorEpoch: number;
}

export function encodeControlRecordKey(
  type: number,
  version: number = CONTROL_RECORD_KEY_VERSION,
): Buffer {
  const key = Buffer.allocUnsafe(4);
  try {
    key.writeInt16BE(version, 0);
    key.writeInt16BE(type, 2);
  } catch (error) {
    throw new ProtocolEncodeError(`invalid control record key ${version}/${type}`, {
      cause: error,
    });
  }
  return key;
}

/** Reads a control record key; later versions may append fields, which are ignored. */
export function decodeControlRecordKey(key: Buffer | null): ControlRecordKey {
  if (key === null || key.length < 4) {
    throw new ProtocolDecodeError(`control record key of ${key?.length ?? 'null'} bytes`);
  }
  const version = key.readInt16BE(0);
  if (version < 0) throw new ProtocolDecodeError(`control record key version ${version}`);
  return { version, type: key.readInt16BE(2) };
}

export function encodeEndTransactionMarker(marker: {
  coordinatorEpoch: number;
  version?: number;
}): Buffer {
  const value = Buffer.allocUnsafe(6);
  try {
    value.writeInt16BE(marker.version ?? END_TRANSACTION_MARKER_VERSION, 0);
    value.writeInt32BE(marker.coordinatorEpoch, 2);
  } catch (error) {
    throw new ProtocolEncodeError('invalid end transaction marker', { cause: error });
  }
  return value;
}

/** Reads a commit or abort marker's value; later versions may append fields, which are ignored. */
export function decodeEndTransactionMarker(value: Buffer | null): EndTransactionMarker {
  if (value === null || value.length < 6) {
    throw new ProtocolDecodeError(`end transaction marker of ${value?.length ?? 'null'} bytes`);
  }
  const version = value.readInt16BE(0);
  if (version < 0) throw new ProtocolDecodeError(`end transaction marker version ${version}`);
  return { version, coordinatorEpoch: value.readInt32BE(2) };
}

export interface EndTransactionBatchInput {
  type: typeof ControlRecordType.abort | typeof ControlRecordType.commit;
  producerId: bigint;
  producerEpoch: number;
  coordinatorEpoch: number;
  /** The marker's timestamp (ms). */
  timestamp: bigint;
  baseOffset?: bigint;
  partitionLeaderEpoch?: number;
  compression?: CompressionType;
}

/** A whole control batch holding one commit or abort marker, as the broker writes it. */
export function encodeEndTransactionBatch(input: EndTransactionBatchInput): Buffer {
  return encodeRecordBatch({
    baseOffset: input.baseOffset ?? 0n,
    partitionLeaderEpoch: input.partitionLeaderEpoch ?? NO_PARTITION_LEADER_EPOCH,
    ...(input.compression === undefined ? {} : { compression: input.compression }),
    isTransactional: true,
    isControlBatch: true,
    baseTimestamp: input.timestamp,
    producerId: input.producerId,
    producerEpoch: input.producerEpoch,
    baseSequence: -1,
    records: [
      {
        key: encodeControlRecordKey(input.type),
        value: encodeEndTransactionMarker({ coordinatorEpoch: input.coordinatorEpoch }),
      },
    ],
  });
}

export interface DecodedControlRecord {
  key: ControlRecordKey;
  /** The marker of a commit or abort; null for the other control types. */
  marker: EndTransactionMarker | null;
}

/** The control record of a decoded control batch. */
export function readControlRecord(batch: RecordBatch): DecodedControlRecord {
  if (!batch.isControlBatch) throw new ProtocolDecodeError('not a control batch');
  const record = batch.records[0];
  if (record === undefined) throw new ProtocolDecodeError('control batch without a record');
  const key = decodeControlRecordKey(record.key);
  const isMarker = key.type === ControlRecordType.abort || key.type === ControlRecordType.commit;
  return { key, marker: isMarker ? decodeEndTransactionMarker(record.value) : null };
}
