import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  ApiKey,
  ApiVersionsRequest,
  ApiVersionsResponse,
  CreateTopicsRequest,
  CreateTopicsResponse,
  decodeRecordBatches,
  ErrorCode,
  encodeRecordBatch,
  FetchRequest,
  FetchResponse,
  MetadataRequest,
  MetadataResponse,
  ProduceRequest,
  ProduceResponse,
  Writer,
} from '@brook/protocol';
import { Broker } from '../src/broker.ts';
import { parseBrokerConfig } from '../src/config/broker-config.ts';
import { silentLogger } from '../src/logger.ts';
import { RawClient, startTestBroker } from './helpers.ts';

function records(values: string[]): Buffer {
  return encodeRecordBatch({
    baseTimestamp: BigInt(Date.now()),
    records: values.map((value, i) => ({
      offsetDelta: i,
      key: Buffer.from(`k${i}`),
      value: Buffer.from(value),
    })),
  });
}

async function produce(
  client: RawClient,
  topic: string,
  partition: number,
  values: string[],
  acks = -1,
) {
  return client.request(ApiKey.Produce, 9, ProduceRequest, ProduceResponse, {
    acks,
    timeoutMs: 5000,
    topicData: [{ name: topic, partitionData: [{ index: partition, records: records(values) }] }],
  });
}

function fetch(client: RawClient, topic: string, partition: number, offset: bigint, maxWaitMs = 0) {
  return client.request(ApiKey.Fetch, 11, FetchRequest, FetchResponse, {
    maxWaitMs,
    minBytes: 1,
    maxBytes: 1 << 20,
    topics: [
      { topic, partitions: [{ partition, fetchOffset: offset, partitionMaxBytes: 1 << 20 }] },
    ],
  });
}

function valuesIn(response: Awaited<ReturnType<typeof fetch>>): string[] {
  const bytes = response.responses[0]?.partitions[0]?.records;
  if (!bytes) return [];
  return decodeRecordBatches(bytes).batches.flatMap((b) =>
    b.records.map((r) => r.value!.toString()),
  );
}

async function createTopic(
  client: RawClient,
  name: string,
  partitions = 1,
  configs: { name: string; value: string }[] = [],
) {
  const response = await client.request(
    ApiKey.CreateTopics,
    7,
    CreateTopicsRequest,
    CreateTopicsResponse,
    {
      topics: [{ name, numPartitions: partitions, replicationFactor: 1, assignments: [], configs }],
      timeoutMs: 1000,
      validateOnly: false,
    },
  );
  return response.topics[0]!;
}

describe('broker', () => {
  it('advertises the registered APIs and answers an unknown ApiVersions version in v0', async (t) => {
    const { port } = await startTestBroker(t);
    const client = await RawClient.connect(port);
    t.after(() => client.close());
    const versions = await client.request(
      ApiKey.ApiVersions,
      3,
      ApiVersionsRequest,
      ApiVersionsResponse,
      {
        clientSoftwareName: 'brook-test',
        clientSoftwareVersion: '1.0',
      },
    );
    assert.equal(versions.errorCode, ErrorCode.NONE);
    const produceRange = versions.apiKeys.find((k) => k.apiKey === ApiKey.Produce);
    assert.deepEqual([produceRange?.minVersion, produceRange?.maxVersion], [0, 11]);
    // A version from the future: the answer is v0 with UNSUPPORTED_VERSION and the ranges.
    const writer = new Writer();
    writer
      .writeInt32(0)
      .writeInt16(ApiKey.ApiVersions)
      .writeInt16(99)
      .writeInt32(77)
      .writeString('x');
    const bytes = writer.toBuffer();
    bytes.writeInt32BE(bytes.length - 4, 0);
    const frame = client.next();
    client.socket.write(bytes);
    const response = await frame;
    assert.equal(response.readInt32BE(0), 77);
    assert.equal(response.readInt16BE(4), ErrorCode.UNSUPPORTED_VERSION);
  });

  it('serves a connection that arrives while the broker is still starting', async (t) => {
    const free = createServer();
    await new Promise<void>((resolve) => free.listen(0, '127.0.0.1', resolve));
    const port = (free.address() as { port: number }).port;
    await new Promise<void>((resolve) => free.close(() => resolve()));
    const dataDirectory = mkdtempSync(join(tmpdir(), 'brook-early-'));
    t.after(() => rmSync(dataDirectory, { recursive: true, force: true }));
    const config = parseBrokerConfig({}, { host: '127.0.0.1', port, dataDirectory });
    const starting = Broker.start({ config, logger: silentLogger, shutdownGraceMs: 500 });
    // Connect as soon as the port opens, before start resolves.
    let client: RawClient | undefined;
    while (client === undefined) {
      client = await RawClient.connect(port).catch(() => undefined);
    }
    const early = client;
    t.after(() => early.close());
    const answer = early.request(ApiKey.ApiVersions, 3, ApiVersionsRequest, ApiVersionsResponse, {
      clientSoftwareName: 'brook-test',
      clientSoftwareVersion: '1.0',
    });
    const broker = await starting;
    const versions = await answer;
    assert.equal(versions.errorCode, ErrorCode.NONE);
    await broker.stop();
  });

  it('creates topics on Metadata, refuses illegal names, and validates CreateTopics', async (t) => {
    const { port } = await startTestBroker(t, { properties: { 'num.partitions': '3' } });
    const client = await RawClient.connect(port);
    t.after(() => client.close());
    const metadata = await client.request(ApiKey.Metadata, 12, MetadataRequest, MetadataResponse, {
      topics: [
        { topicId: '00000000-0000-0000-0000-000000000000', name: 'auto' },
        { topicId: '00000000-0000-0000-0000-000000000000', name: 'bad/name' },
      ],
      allowAutoTopicCreation: true,
      includeTopicAuthorizedOperations: false,
    });
    assert.equal(metadata.topics[0]?.errorCode, ErrorCode.NONE);
    assert.equal(metadata.topics[0]?.partitions.length, 3);
    assert.equal(metadata.topics[1]?.errorCode, ErrorCode.INVALID_TOPIC_EXCEPTION);
    assert.equal((await createTopic(client, 'auto')).errorCode, ErrorCode.TOPIC_ALREADY_EXISTS);
    assert.equal((await createTopic(client, 'au_to')).errorCode, ErrorCode.NONE);
    assert.equal((await createTopic(client, 'au.to')).errorCode, ErrorCode.INVALID_TOPIC_EXCEPTION);
    const badConfig = await createTopic(client, 'cfg', 1, [{ name: 'segment.bytes', value: '-5' }]);
    assert.equal(badConfig.errorCode, ErrorCode.INVALID_CONFIG);
    assert.match(badConfig.errorMessage ?? '', /segment\.bytes/);
    assert.equal(
      (await createTopic(client, 'x'.repeat(250))).errorCode,
      ErrorCode.INVALID_TOPIC_EXCEPTION,
    );
  });

  it('produces and fetches, with responses in request order under pipelining', async (t) => {
    const { port } = await startTestBroker(t);
    const client = await RawClient.connect(port);
    t.after(() => client.close());
    await createTopic(client, 'orders', 2);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => produce(client, 'orders', i % 2, [`v${i}`])),
    );
    const offsets = results.map((r) => r.responses[0]!.partitionResponses[0]!.baseOffset);
    assert.deepEqual(
      offsets,
      Array.from({ length: 20 }, (_, i) => BigInt(Math.floor(i / 2))),
    );
    const fetched = await fetch(client, 'orders', 1, 0n);
    assert.deepEqual(
      valuesIn(fetched),
      Array.from({ length: 10 }, (_, i) => `v${i * 2 + 1}`),
    );
    assert.equal(fetched.responses[0]?.partitions[0]?.highWatermark, 10n);
    const unknown = await produce(client, 'missing', 0, ['x']);
    assert.equal(
      unknown.responses[0]?.partitionResponses[0]?.errorCode,
      ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
    );
  });

  it('refuses batches Produce v3+ cannot carry with the codes Kafka gives', async (t) => {
    const { port } = await startTestBroker(t);
    const client = await RawClient.connect(port);
    t.after(() => client.close());
    await createTopic(client, 'strict');
    const send = async (bytes: Buffer) => {
      const response = await client.request(ApiKey.Produce, 9, ProduceRequest, ProduceResponse, {
        acks: -1,
        timeoutMs: 1000,
        topicData: [{ name: 'strict', partitionData: [{ index: 0, records: bytes }] }],
      });
      return response.responses[0]!.partitionResponses[0]!.errorCode;
    };
    const oldMagic = records(['a']);
    oldMagic[16] = 1;
    assert.equal(await send(oldMagic), ErrorCode.INVALID_RECORD);
    const badMagic = records(['a']);
    badMagic[16] = 17;
    assert.equal(await send(badMagic), ErrorCode.CORRUPT_MESSAGE);
    assert.equal(
      await send(Buffer.concat([records(['a']), records(['b'])])),
      ErrorCode.INVALID_RECORD,
    );
    assert.equal(await send(records(['ok'])), ErrorCode.NONE);
    assert.deepEqual(
      valuesIn(await fetch(client, 'strict', 0, 0n)),
      ['ok'],
      'nothing refused was written',
    );
  });

  it('caps a fetch response at fetch.max.bytes whatever the client asks for', async (t) => {
    const { port } = await startTestBroker(t, { properties: { 'fetch.max.bytes': '2048' } });
    const client = await RawClient.connect(port);
    t.after(() => client.close());
    await createTopic(client, 'capped');
    for (let i = 0; i < 10; i++) await produce(client, 'capped', 0, ['x'.repeat(900)]);
    const response = await fetch(client, 'capped', 0, 0n);
    const bytes = response.responses[0]?.partitions[0]?.records?.length ?? 0;
    assert.ok(bytes > 0 && bytes <= 2048, `returned ${bytes} bytes`);
    assert.ok(valuesIn(response).length >= 1, 'the first batch still comes back');
  });

  it('sends nothing back for acks=0 and keeps answering later requests in order', async (t) => {
    const { port } = await startTestBroker(t);
    const client = await RawClient.connect(port);
    t.after(() => client.close());
    await createTopic(client, 'fire');
    const writer = new Writer();
    const { writeRequestFrame } = await import('@brook/protocol');
    writeRequestFrame(
      writer,
      { apiKey: ApiKey.Produce, apiVersion: 9, correlationId: 500, clientId: null },
      (w) =>
        ProduceRequest.write(
          w,
          {
            acks: 0,
            timeoutMs: 100,
            topicData: [
              { name: 'fire', partitionData: [{ index: 0, records: records(['quiet']) }] },
            ],
          },
          9,
        ),
    );
    client.socket.write(writer.toBuffer());
    const after = await produce(client, 'fire', 0, ['loud']);
    assert.equal(after.responses[0]?.partitionResponses[0]?.baseOffset, 1n);
  });

  it('wakes a long-polling fetch when records arrive', async (t) => {
    const { port } = await startTestBroker(t);
    const consumer = await RawClient.connect(port);
    const producer = await RawClient.connect(port);
    t.after(() => {
      consumer.close();
      producer.close();
    });
    await createTopic(consumer, 'poll');
    const started = Date.now();
    const waiting = fetch(consumer, 'poll', 0, 0n, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await produce(producer, 'poll', 0, ['wake']);
    assert.deepEqual(valuesIn(await waiting), ['wake']);
    assert.ok(Date.now() - started < 5000, 'woken by the append, not by max_wait_ms');
  });

  it('closes only the connection that sends a bad frame', async (t) => {
    const { port } = await startTestBroker(t, {
      properties: { 'socket.request.max.bytes': '1048576' },
    });
    const good = await RawClient.connect(port);
    const bad = await RawClient.connect(port);
    t.after(() => {
      good.close();
      bad.close();
    });
    await createTopic(good, 'steady');
    bad.socket.write(Buffer.from([0x7f, 0xff, 0xff, 0xff, 1, 2, 3]));
    await new Promise((resolve) => bad.socket.once('close', resolve));
    const garbage = await RawClient.connect(port);
    garbage.socket.write(Buffer.from([0, 0, 0, 10, 0, 0, 0, 9, 1, 2, 3, 4, 5, 6]));
    await new Promise((resolve) => garbage.socket.once('close', resolve));
    const still = await produce(good, 'steady', 0, ['ok']);
    assert.equal(still.responses[0]?.partitionResponses[0]?.errorCode, ErrorCode.NONE);
  });

  it('keeps topics and records across a restart', async (t) => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const dataDirectory = mkdtempSync('/tmp/brook-restart-');
    const first = await startTestBroker(t, { dataDirectory });
    const client = await RawClient.connect(first.port);
    await createTopic(client, 'durable', 1, [{ name: 'retention.ms', value: '3600000' }]);
    await produce(client, 'durable', 0, ['one', 'two']);
    client.close();
    await first.stop();
    const second = await startTestBroker(t, { dataDirectory: first.dataDirectory });
    const again = await RawClient.connect(second.port);
    t.after(() => again.close());
    // Registered last, so it runs after both brokers have stopped.
    t.after(() => rmSync(dataDirectory, { recursive: true, force: true }));
    assert.deepEqual(valuesIn(await fetch(again, 'durable', 0, 0n)), ['one', 'two']);
    assert.equal(second.broker.context.topicLogConfig('durable').retentionMs, 3600000);
  });
});
