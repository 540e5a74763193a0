/**
 * What the consumer tests share: topics created in the broker, records written with raw
 * Produce requests (so the consumer tests depend on no producer), and waiting for a condition.
 */
import assert from 'node:assert/strict';
import { ErrorCode, encodeRecordBatch, ProduceRequest, ProduceResponse } from '@brook/protocol';
import { Connection, silentLogger } from '../src/index.ts';
import type { TestBroker } from './helpers.ts';

export async function createTopic(
  broker: TestBroker,
  name: string,
  partitions: number,
  configs: Record<string, string> = {},
): Promise<void> {
  const result = await broker.broker.context.createTopic({
    name,
    partitions,
    replicationFactor: 1,
    configs,
    validateOnly: false,
  });
  assert.equal(result.error, undefined, `creating ${name}: ${JSON.stringify(result.error)}`);
}

export interface TestRecord {
  key: string | null;
  value: string | null;
  headers?: { key: string; value: string }[];
}

/** A connection for raw requests, closed after the test. */
export async function rawConnection(
  t: { after(fn: () => void): void },
  broker: TestBroker,
): Promise<Connection> {
  const connection = await Connection.connect({
    host: '127.0.0.1',
    port: broker.port,
    clientId: 'test-producer',
    logger: silentLogger,
  });
  t.after(() => connection.close());
  return connection;
}

/** Appends one batch of `records` to a partition (acks=1); the base offset it got. */
export async function produce(
  connection: Connection,
  topic: string,
  partition: number,
  records: readonly TestRecord[],
): Promise<bigint> {
  const batch = encodeRecordBatch({
    baseTimestamp: BigInt(Date.now()),
    records: records.map((record, index) => ({
      offsetDelta: index,
      key: record.key === null ? null : Buffer.from(record.key),
      value: record.value === null ? null : Buffer.from(record.value),
      headers: (record.headers ?? []).map((h) => ({ key: h.key, value: Buffer.from(h.value) })),
    })),
  });
  const response = await connection.request(ProduceRequest, ProduceResponse, {
    acks: 1,
    timeoutMs: 5000,
    topicData: [{ name: topic, partitionData: [{ index: partition, records: batch }] }],
  });
  const answer = response.responses[0]?.partitionResponses[0];
  assert.equal(answer?.errorCode, ErrorCode.NONE, `produce to ${topic}-${partition}`);
  return answer.baseOffset;
}

/** `count` records `${prefix}-${i}` to each partition, in batches of `batchSize`. */
export async function fill(
  connection: Connection,
  topic: string,
  partitions: number,
  count: number,
  options: { prefix?: string; batchSize?: number } = {},
): Promise<void> {
  const prefix = options.prefix ?? 'v';
  const batchSize = options.batchSize ?? 50;
  for (let partition = 0; partition < partitions; partition++) {
    for (let start = 0; start < count; start += batchSize) {
      const records: TestRecord[] = [];
      for (let i = start; i < Math.min(count, start + batchSize); i++) {
        records.push({ key: `k${i}`, value: `${prefix}-${partition}-${i}` });
      }
      await produce(connection, topic, partition, records);
    }
  }
}

/** Polls `condition` every 20 ms until it holds; fails after `timeoutMs`. */
export async function waitFor(
  what: string,
  condition: () => boolean,
  timeoutMs = 10_000,
  describe: () => string = () => '',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline)
      assert.fail(`timed out after ${timeoutMs} ms: ${what} ${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
