/**
 * kafkajs's own record batch encoder and decoder, reached through its internals (the package has
 * no `exports` map, so its source files can be required), to check Brook against a real client.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

interface KafkajsEncoder {
  buffer: Buffer;
}
interface KafkajsDecoderInstance {
  readonly buffer: Buffer;
}
export interface KafkajsRecord {
  offset: string;
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | Buffer[]>;
}
export interface KafkajsBatch {
  firstOffset: string;
  firstTimestamp: string;
  maxTimestamp: string;
  producerId: string;
  producerEpoch: number;
  firstSequence: number;
  inTransaction: boolean;
  records: KafkajsRecord[];
}
export interface KafkajsRecordInput {
  offsetDelta: number;
  timestampDelta: number;
  key: Buffer | null;
  value: Buffer | null;
  headers?: Record<string, Buffer>;
}
export interface KafkajsBatchInput {
  compression?: number;
  firstOffset?: unknown;
  firstTimestamp: number;
  maxTimestamp: number;
  lastOffsetDelta: number;
  partitionLeaderEpoch?: number;
  producerId?: unknown;
  producerEpoch?: number;
  firstSequence?: number;
  records: KafkajsEncoder[];
}

const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js') as {
  RecordBatch: (input: KafkajsBatchInput) => Promise<KafkajsEncoder>;
};
const Record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (
  input: KafkajsRecordInput,
) => KafkajsEncoder;
const decodeBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder.js') as (
  decoder: KafkajsDecoderInstance,
) => Promise<KafkajsBatch>;
const Decoder = require('kafkajs/src/protocol/decoder.js') as new (
  buffer: Buffer,
) => KafkajsDecoderInstance;

export async function kafkajsEncode(
  input: Omit<KafkajsBatchInput, 'records'>,
  records: readonly KafkajsRecordInput[],
): Promise<Buffer> {
  const encoder = await RecordBatch({ ...input, records: records.map((record) => Record(record)) });
  return encoder.buffer;
}

export function kafkajsDecode(batch: Buffer): Promise<KafkajsBatch> {
  return decodeBatch(new Decoder(batch));
}
