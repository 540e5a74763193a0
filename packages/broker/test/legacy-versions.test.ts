import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crc32 } from 'node:zlib';
import {
  ApiKey,
  ApiVersionsRequest,
  ApiVersionsResponse,
  CompressionType,
  CreateTopicsRequest,
  CreateTopicsResponse,
  decodeLegacyMessageSet,
  decodeRecordBatches,
  ErrorCode,
  encodeLegacyMessageSet,
  encodeRecordBatch,
  FetchRequest,
  FetchResponse,
  LegacyMagic,
  type LegacyMessageInput,
  ProduceRequest,
  ProduceResponse,
  TimestampType,
} from '@brook/protocol';
import { RawClient, startTestBroker } from './helpers.ts';

async function createTopic(
  client: RawClient,
  name: string,
  configs: Record<string, string> = {},
  partitions = 1,
) {
  const response = await client.request(
    ApiKey.CreateTopics,
    7,
    CreateTopicsRequest,
    CreateTopicsResponse,
    {
      topics: [
        {
          name,
          numPartitions: partitions,
          replicationFactor: 1,
          assignments: [],
          configs: Object.entries(configs).map(([key, value]) => ({ name: key, value })),
        },
      ],
      timeoutMs: 1000,
      validateOnly: false,
    },
  );
  assert.equal(response.topics[0]?.errorCode, ErrorCode.NONE);
}

async function produceRaw(client: RawClient, version: number, topic: string, records: Buffer) {
  const response = await client.request(ApiKey.Produce, version, ProduceRequest, ProduceResponse, {
    acks: -1,
    timeoutMs: 5000,
    topicData: [{ name: topic, partitionData: [{ index: 0, records }] }],
  });
  return response.responses[0]!.partitionResponses[0]!;
}

function messages(values: string[], timestamps?: bigint[]): LegacyMessageInput[] {
  return values.map((value, index) => ({
    key: Buffer.from(`k-${value}`),
    value: Buffer.from(value),
    ...(timestamps ? { timestamp: timestamps[index]! } : {}),
  }));
}

async function fetchRaw(
  client: RawClient,
  version: number,
  topic: string,
  fetchOffset: bigint,
  limits: { partitionMaxBytes?: number; maxBytes?: number } = {},
) {
  const response = await client.request(ApiKey.Fetch, version, FetchRequest, FetchResponse, {
    maxWaitMs: 0,
    minBytes: 1,
    maxBytes: limits.maxBytes ?? 1 << 20,
    topics: [
      {
        topic,
        partitions: [
          { partition: 0, fetchOffset, partitionMaxBytes: limits.partitionMaxBytes ?? 1 << 20 },
        ],
      },
    ],
  });
  return response.responses[0]!.partitions[0]!;
}

/** Offset, value and timestamp of each message of a legacy Fetch answer. */
function legacy(records: Buffer | null) {
  const decoded = decodeLegacyMessageSet(records ?? Buffer.alloc(0));
  return decoded.messages.map((message) => ({
    offset: message.offset,
    magic: message.magic,
    value: message.value?.toString(),
    timestamp: message.timestamp,
    timestampType: message.timestampType,
  }));
}

/** Offset, value and timestamp of each record of a v2 Fetch answer. */
function modern(records: Buffer | null) {
  return decodeRecordBatches(records ?? Buffer.alloc(0)).batches.flatMap((batch) =>
    batch.records.map((record) => ({
      offset: batch.baseOffset + BigInt(record.offsetDelta),
      value: record.value?.toString(),
      key: record.key?.toString(),
      timestamp:
        batch.timestampType === TimestampType.logAppendTime
          ? batch.maxTimestamp
          : batch.baseTimestamp + BigInt(record.timestampDelta),
    })),
  );
}

describe('legacy versions (Produce v0-2, Fetch v0-3)', () => {
  it('advertises Produce and Fetch from v0', async (t) => {
    const { port } = await startTestBroker(t);
    const client = await RawClient.connect(port);
    t.after(() => client.close());
    const versions = await client.request(
      ApiKey.ApiVersions,
      3,
      ApiVersionsRequest,
      ApiVersionsResponse,
      { clientSoftwareName: 'brook-test', clientSoftwareVersion: '1.0' },
    );
    const range = (apiKey: number) => {
      const entry = versions.apiKeys.find((key) => key.apiKey === apiKey);
      return [entry?.minVersion, entry?.maxVersion];
    };
    assert.deepEqual(range(ApiKey.Produce), [0, 11]);
    assert.deepEqual(range(ApiKey.Fetch), [0, 17]);
  });

  it('stores message sets of Produce v0/v1/v2 and returns them through Fetch v0, v2 and v11', async (t) => {
    const { port } = await startTestBroker(t);
    const client = await RawClient.connect(port);
    t.after(() => client.close());
    await createTopic(client, 'old');
    const now = BigInt(Date.now());
    const stamps = [now - 3000n, now - 2000n, now - 1000n];

    // v0: magic 0, uncompressed.
    const v0 = await produceRaw(
      client,
      0,
      'old',
      encodeLegacyMessageSet(messages(['a', 'b']), { magic: LegacyMagic.v0 }),
    );
    assert.deepEqual([v0.errorCode, v0.baseOffset], [ErrorCode.NONE, 0n]);
    // v1: magic 0 in a gzip wrapper (absolute inner offsets).
    const v1 = await produceRaw(
      client,
      1,
      'old',
      encodeLegacyMessageSet(messages(['c', 'd']), {
        magic: LegacyMagic.v0,
        compression: CompressionType.gzip,
        baseOffset: 70n,
      }),
    );
    assert.deepEqual([v1.errorCode, v1.baseOffset], [ErrorCode.NONE, 2n]);
    // v2: magic 1 with timestamps, uncompressed and in a gzip wrapper (relative inner offsets).
    const v2 = await produceRaw(
      client,
      2,
      'old',
      encodeLegacyMessageSet(messages(['e'], [stamps[0]!]), { magic: LegacyMagic.v1 }),
    );
    assert.deepEqual([v2.errorCode, v2.baseOffset, v2.logAppendTimeMs], [ErrorCode.NONE, 4n, -1n]);
    const v2gzip = await produceRaw(
      client,
      2,
      'old',
      encodeLegacyMessageSet(messages(['f', 'g'], [stamps[1]!, stamps[2]!]), {
        magic: LegacyMagic.v1,
        compression: CompressionType.gzip,
      }),
    );
    assert.deepEqual([v2gzip.errorCode, v2gzip.baseOffset], [ErrorCode.NONE, 5n]);

    const values = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
    const timestamps = [-1n, -1n, -1n, -1n, ...stamps];

    // Fetch v11 sees v2 batches: magic 0 messages have no timestamp (-1), magic 1 keep theirs.
    const current = await fetchRaw(client, 11, 'old', 0n);
    assert.equal(current.highWatermark, 7n);
    assert.deepEqual(
      modern(current.records),
      values.map((value, index) => ({
        offset: BigInt(index),
        value,
        key: `k-${value}`,
        timestamp: timestamps[index],
      })),
    );
    const stored = decodeRecordBatches(current.records!).batches;
    assert.deepEqual(
      stored.map((batch) => batch.compression),
      [CompressionType.none, CompressionType.gzip, CompressionType.none, CompressionType.gzip],
    );

    // Fetch v0-1: magic 0, no timestamps.
    for (const version of [0, 1]) {
      const response = await fetchRaw(client, version, 'old', 0n);
      assert.equal(response.errorCode, ErrorCode.NONE);
      assert.deepEqual(
        legacy(response.records),
        values.map((value, index) => ({
          offset: BigInt(index),
          magic: 0,
          value,
          timestamp: -1n,
          timestampType: TimestampType.noTimestamp,
        })),
      );
    }
    // Fetch v2-3: magic 1, with timestamps.
    for (const version of [2, 3]) {
      const response = await fetchRaw(client, version, 'old', 0n);
      assert.deepEqual(
        legacy(response.records),
        values.map((value, index) => ({
          offset: BigInt(index),
          magic: 1,
          value,
          timestamp: timestamps[index],
          timestampType: TimestampType.createTime,
        })),
      );
    }
    // From the middle: an uncompressed batch drops the records before the fetch offset, a
    // compressed one comes whole (the client skips them).
    assert.deepEqual(
      legacy((await fetchRaw(client, 2, 'old', 1n)).records).map((m) => m.offset),
      [1n, 2n, 3n, 4n, 5n, 6n],
    );
    assert.deepEqual(
      legacy((await fetchRaw(client, 2, 'old', 3n)).records).map((m) => m.offset),
      [2n, 3n, 4n, 5n, 6n],
    );
  });

  it('converts batches produced by current clients for old fetches, compressed or not', async (t) => {
    const { port } = await startTestBroker(t);
    const client = await RawClient.connect(port);
    t.after(() => client.close());
    await createTopic(client, 'new');
    const base = BigInt(Date.now()) - 10_000n;
    const batch = (compression: CompressionType, values: string[]) =>
      encodeRecordBatch({
        baseTimestamp: base,
        compression,
        records: values.map((value, index) => ({
          timestampDelta: index * 10,
          key: null,
          value: Buffer.from(value),
          headers: [{ key: 'h', value: Buffer.from('dropped') }],
        })),
      });
    await produceRaw(client, 9, 'new', batch(CompressionType.none, ['0', '1', '2']));
    await produceRaw(client, 9, 'new', batch(CompressionType.snappy, ['3', '4']));
    await produceRaw(client, 9, 'new', batch(CompressionType.lz4, ['5']));
    const v1 = legacy((await fetchRaw(client, 1, 'new', 0n)).records);
    assert.deepEqual(
      v1.map((m) => [m.offset, m.value]),
      ['0', '1', '2', '3', '4', '5'].map((value, index) => [BigInt(index), value]),
    );
    const v3 = legacy((await fetchRaw(client, 3, 'new', 0n)).records);
    assert.deepEqual(
      v3.map((m) => m.timestamp),
      [base, base + 10n, base + 20n, base, base + 10n, base],
    );

    // zstd has no legacy form: UNSUPPORTED_COMPRESSION_TYPE when it comes first.
    await produceRaw(client, 9, 'new', batch(CompressionType.zstd, ['6']));
    const beforeZstd = await fetchRaw(client, 2, 'new', 5n);
    assert.deepEqual(
      legacy(beforeZstd.records).map((m) => m.value),
      ['5'],
    );
    const atZstd = await fetchRaw(client, 2, 'new', 6n);
    assert.equal(atZstd.errorCode, ErrorCode.UNSUPPORTED_COMPRESSION_TYPE);
    assert.equal((await fetchRaw(client, 11, 'new', 6n)).errorCode, ErrorCode.NONE);
  });

  it('keeps the fetch limits: partial first message for v0-2, first batch whole for v3', async (t) => {
    const { port } = await startTestBroker(t);
    const client = await RawClient.connect(port);
    t.after(() => client.close());
    await createTopic(client, 'limits');
    const big = 'x'.repeat(300);
    await produceRaw(
      client,
      9,
      'limits',
      encodeRecordBatch({
        baseTimestamp: BigInt(Date.now()),
        records: [big, 'small1', 'small2'].map((value) => ({
          key: null,
          value: Buffer.from(value),
        })),
      }),
    );
    // v0: 100 bytes cannot hold the first message; it comes back cut, as Kafka's sliced read.
    const cut = await fetchRaw(client, 0, 'limits', 0n, { partitionMaxBytes: 100 });
    assert.equal(cut.records?.length, 100);
    const decoded = decodeLegacyMessageSet(cut.records!);
    assert.deepEqual([decoded.messages.length, decoded.truncatedBytes], [0, 100]);
    // v0 with room for the first two messages only: whole messages, nothing partial.
    const two = await fetchRaw(client, 0, 'limits', 0n, { partitionMaxBytes: 360 });
    assert.deepEqual(
      legacy(two.records).map((m) => m.value?.length),
      [300, 6],
    );
    assert.equal(decodeLegacyMessageSet(two.records!).truncatedBytes, 0);
    // v3 (KIP-74): the whole first batch comes back although larger than max_bytes.
    const whole = await fetchRaw(client, 3, 'limits', 0n, { partitionMaxBytes: 100, maxBytes: 50 });
    assert.deepEqual(
      legacy(whole.records).map((m) => m.offset),
      [0n, 1n, 2n],
    );
  });

  it('refuses down-conversion when message.downconversion.enable=false, and zstd topics before v10', async (t) => {
    const { port } = await startTestBroker(t);
    const client = await RawClient.connect(port);
    t.after(() => client.close());
    await createTopic(client, 'modern-only', { 'message.downconversion.enable': 'false' });
    await createTopic(client, 'zstd-topic', { 'compression.type': 'zstd' });
    await produceRaw(
      client,
      0,
      'modern-only',
      encodeLegacyMessageSet(messages(['m']), { magic: LegacyMagic.v0 }),
    );
    const refused = await fetchRaw(client, 2, 'modern-only', 0n);
    assert.equal(refused.errorCode, ErrorCode.UNSUPPORTED_VERSION);
    assert.equal(refused.highWatermark, -1n);
    const allowed = await fetchRaw(client, 4, 'modern-only', 0n);
    assert.deepEqual(
      modern(allowed.records).map((r) => r.value),
      ['m'],
    );
    // Produce v0 into a zstd topic: the converted batch is compressed with zstd.
    const produced = await produceRaw(
      client,
      0,
      'zstd-topic',
      encodeLegacyMessageSet(messages(['z']), { magic: LegacyMagic.v0 }),
    );
    assert.equal(produced.errorCode, ErrorCode.NONE);
    assert.equal(
      (await fetchRaw(client, 9, 'zstd-topic', 0n)).errorCode,
      ErrorCode.UNSUPPORTED_COMPRESSION_TYPE,
    );
    const zstd = await fetchRaw(client, 10, 'zstd-topic', 0n);
    assert.equal(decodeRecordBatches(zstd.records!).batches[0]?.compression, CompressionType.zstd);
  });

  it('stamps the append time on LogAppendTime topics and reports it to Produce v2', async (t) => {
    const { port } = await startTestBroker(t);
    const client = await RawClient.connect(port);
    t.after(() => client.close());
    await createTopic(client, 'append-time', { 'message.timestamp.type': 'LogAppendTime' });
    const before = BigInt(Date.now());
    const produced = await produceRaw(
      client,
      2,
      'append-time',
      encodeLegacyMessageSet(messages(['p', 'q'], [1n, 2n]), {
        magic: LegacyMagic.v1,
        compression: CompressionType.gzip,
      }),
    );
    assert.equal(produced.errorCode, ErrorCode.NONE);
    assert.ok(produced.logAppendTimeMs >= before);
    const fetched = legacy((await fetchRaw(client, 2, 'append-time', 0n)).records);
    assert.deepEqual(
      fetched.map((m) => [m.value, m.timestamp, m.timestampType]),
      [
        ['p', produced.logAppendTimeMs, TimestampType.logAppendTime],
        ['q', produced.logAppendTimeMs, TimestampType.logAppendTime],
      ],
    );
  });

  it('refuses malformed and invalid message sets as Kafka does', async (t) => {
    const { port } = await startTestBroker(t);
    const client = await RawClient.connect(port);
    t.after(() => client.close());
    await createTopic(client, 'strict');
    const good = encodeLegacyMessageSet(messages(['ok']), { magic: LegacyMagic.v1 });

    const corrupt = Buffer.from(good);
    corrupt[corrupt.length - 1]! ^= 0xff;
    assert.equal(
      (await produceRaw(client, 2, 'strict', corrupt)).errorCode,
      ErrorCode.CORRUPT_MESSAGE,
    );

    const wrapper = () =>
      encodeLegacyMessageSet(messages(['w1', 'w2']), {
        magic: LegacyMagic.v1,
        compression: CompressionType.gzip,
      });
    const twoWrappers = Buffer.concat([wrapper(), wrapper()]);
    assert.equal(
      (await produceRaw(client, 2, 'strict', twoWrappers)).errorCode,
      ErrorCode.INVALID_RECORD,
    );

    // A magic 1 wrapper whose inner offsets do not run 0, 1, …: built by hand.
    const inner = encodeLegacyMessageSet(messages(['i1', 'i2']), {
      magic: LegacyMagic.v1,
      baseOffset: 5n,
    });
    const { gzipCompress } = await import('@brook/protocol');
    const compressed = gzipCompress(inner);
    const size = 4 + 1 + 1 + 8 + 4 + 4 + compressed.length;
    const bad = Buffer.alloc(12 + size);
    bad.writeBigInt64BE(1n, 0);
    bad.writeInt32BE(size, 8);
    bad.writeInt8(1, 16);
    bad.writeInt8(CompressionType.gzip, 17);
    bad.writeBigInt64BE(0n, 18);
    bad.writeInt32BE(-1, 26);
    bad.writeInt32BE(compressed.length, 30);
    compressed.copy(bad, 34);
    bad.writeUInt32BE(crc32(bad.subarray(16)), 12);
    assert.equal((await produceRaw(client, 2, 'strict', bad)).errorCode, ErrorCode.INVALID_RECORD);

    // A partial message at the end.
    assert.equal(
      (await produceRaw(client, 0, 'strict', good.subarray(0, good.length - 3))).errorCode,
      ErrorCode.CORRUPT_MESSAGE,
    );
    // Nothing was appended.
    assert.equal((await fetchRaw(client, 4, 'strict', 0n)).highWatermark, 0n);
  });
});
