import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
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
  InitProducerIdRequest,
  InitProducerIdResponse,
  ProduceRequest,
  ProduceResponse,
  readRecordBatchHeader,
  splitRecordsBlob,
} from '@brook/protocol';
import type { Broker } from '../src/broker.ts';
import { produceErrorCode } from '../src/handlers/00-produce.ts';
import { RawClient, startTestBroker } from './helpers.ts';

function initProducerId(
  client: RawClient,
  version: number,
  body: { transactionalId?: string | null; producerId?: bigint; producerEpoch?: number } = {},
) {
  return client.request(
    ApiKey.InitProducerId,
    version,
    InitProducerIdRequest,
    InitProducerIdResponse,
    {
      transactionalId: body.transactionalId ?? null,
      transactionTimeoutMs: 60_000,
      ...(body.producerId !== undefined ? { producerId: body.producerId } : {}),
      ...(body.producerEpoch !== undefined ? { producerEpoch: body.producerEpoch } : {}),
    },
  );
}

/** The batch an idempotent producer sends: `values` from `baseSequence`. */
function idempotentBatch(
  producerId: bigint,
  epoch: number,
  baseSequence: number,
  values: string[],
): Buffer {
  return encodeRecordBatch({
    baseTimestamp: BigInt(Date.now()),
    producerId,
    producerEpoch: epoch,
    baseSequence,
    records: values.map((value, i) => ({ offsetDelta: i, key: null, value: Buffer.from(value) })),
  });
}

async function produce(client: RawClient, topic: string, records: Buffer, version = 9) {
  const response = await client.request(ApiKey.Produce, version, ProduceRequest, ProduceResponse, {
    acks: -1,
    timeoutMs: 5000,
    // The broker patches offsets into the bytes it appends: send a copy, as a retry re-sends.
    topicData: [{ name: topic, partitionData: [{ index: 0, records: Buffer.from(records) }] }],
  });
  return response.responses[0]!.partitionResponses[0]!;
}

async function valuesOf(client: RawClient, topic: string): Promise<string[]> {
  const response = await client.request(ApiKey.Fetch, 11, FetchRequest, FetchResponse, {
    maxWaitMs: 0,
    minBytes: 1,
    maxBytes: 1 << 20,
    topics: [
      { topic, partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1 << 20 }] },
    ],
  });
  const bytes = response.responses[0]?.partitions[0]?.records;
  if (!bytes) return [];
  return decodeRecordBatches(bytes).batches.flatMap((b) =>
    b.records.map((r) => r.value!.toString()),
  );
}

async function createTopic(client: RawClient, name: string) {
  const response = await client.request(
    ApiKey.CreateTopics,
    7,
    CreateTopicsRequest,
    CreateTopicsResponse,
    {
      topics: [{ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 1000,
      validateOnly: false,
    },
  );
  assert.equal(response.topics[0]?.errorCode, ErrorCode.NONE);
}

describe('idempotent producers', () => {
  it('hands out distinct producer ids with epoch 0 at every InitProducerId version', async (t) => {
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
    const range = versions.apiKeys.find((k) => k.apiKey === ApiKey.InitProducerId);
    assert.deepEqual([range?.minVersion, range?.maxVersion], [0, 5]);
    const ids = new Set<bigint>();
    for (let version = 0; version <= 5; version++) {
      const response = await initProducerId(client, version);
      assert.equal(response.errorCode, ErrorCode.NONE, `v${version}`);
      assert.equal(response.producerEpoch, 0);
      assert.ok(response.producerId >= 0n);
      ids.add(response.producerId);
    }
    // v3+: a producer id and epoch are ignored without a transactional id (a new id comes back).
    const again = await initProducerId(client, 4, { producerId: 0n, producerEpoch: 0 });
    assert.equal(again.errorCode, ErrorCode.NONE);
    ids.add(again.producerId);
    assert.equal(ids.size, 7);
    const half = await initProducerId(client, 3, { producerId: 5n });
    assert.deepEqual(
      [half.errorCode, half.producerId, half.producerEpoch],
      [ErrorCode.INVALID_REQUEST, -1n, -1],
    );
  });

  it('answers transactional ids with COORDINATOR_NOT_AVAILABLE (transactions come later)', async (t) => {
    const { port } = await startTestBroker(t);
    const client = await RawClient.connect(port);
    t.after(() => client.close());
    const transactional = await initProducerId(client, 4, { transactionalId: 'tx-1' });
    assert.equal(transactional.errorCode, ErrorCode.COORDINATOR_NOT_AVAILABLE);
    assert.equal(transactional.producerId, -1n);
    const empty = await initProducerId(client, 1, { transactionalId: '' });
    assert.equal(empty.errorCode, ErrorCode.INVALID_REQUEST);
  });

  it('stores a retried batch once and answers it with the original offset', async (t) => {
    const { port } = await startTestBroker(t);
    const client = await RawClient.connect(port);
    t.after(() => client.close());
    await createTopic(client, 'idem');
    const { producerId, producerEpoch } = await initProducerId(client, 4);
    const first = idempotentBatch(producerId, producerEpoch, 0, ['a', 'b']);
    const second = idempotentBatch(producerId, producerEpoch, 2, ['c']);
    assert.equal((await produce(client, 'idem', first)).baseOffset, 0n);
    assert.equal((await produce(client, 'idem', second)).baseOffset, 2n);
    // The responses were "lost": the producer sends both again (v3 and v9 alike).
    for (const version of [3, 9]) {
      const retryFirst = await produce(client, 'idem', first, version);
      assert.deepEqual([retryFirst.errorCode, retryFirst.baseOffset], [ErrorCode.NONE, 0n]);
      const retrySecond = await produce(client, 'idem', second, version);
      assert.deepEqual([retrySecond.errorCode, retrySecond.baseOffset], [ErrorCode.NONE, 2n]);
    }
    assert.deepEqual(await valuesOf(client, 'idem'), ['a', 'b', 'c']);
    // A gap in the sequence is refused, and nothing is written.
    const gap = await produce(client, 'idem', idempotentBatch(producerId, producerEpoch, 5, ['x']));
    assert.equal(gap.errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    assert.equal(gap.baseOffset, -1n);
    const next = await produce(
      client,
      'idem',
      idempotentBatch(producerId, producerEpoch, 3, ['d']),
    );
    assert.deepEqual([next.errorCode, next.baseOffset], [ErrorCode.NONE, 3n]);
    assert.deepEqual(await valuesOf(client, 'idem'), ['a', 'b', 'c', 'd']);
  });

  it('fences an older epoch and wants a new epoch to start at sequence 0', async (t) => {
    const { port } = await startTestBroker(t);
    const client = await RawClient.connect(port);
    t.after(() => client.close());
    await createTopic(client, 'epochs');
    const { producerId } = await initProducerId(client, 2);
    assert.equal(
      (await produce(client, 'epochs', idempotentBatch(producerId, 1, 0, ['e1']))).errorCode,
      ErrorCode.NONE,
    );
    const stale = await produce(client, 'epochs', idempotentBatch(producerId, 0, 1, ['e0']));
    assert.equal(stale.errorCode, ErrorCode.INVALID_PRODUCER_EPOCH);
    const skipped = await produce(client, 'epochs', idempotentBatch(producerId, 2, 4, ['e2']));
    assert.equal(skipped.errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    const bumped = await produce(client, 'epochs', idempotentBatch(producerId, 2, 0, ['e2']));
    assert.deepEqual([bumped.errorCode, bumped.baseOffset], [ErrorCode.NONE, 1n]);
    // Produce never answers PRODUCER_FENCED; TRANSACTION_ABORTABLE is for v11+ only.
    assert.equal(produceErrorCode(ErrorCode.PRODUCER_FENCED, 11), ErrorCode.INVALID_PRODUCER_EPOCH);
    assert.equal(
      produceErrorCode(ErrorCode.TRANSACTION_ABORTABLE, 10),
      ErrorCode.INVALID_TXN_STATE,
    );
    assert.equal(
      produceErrorCode(ErrorCode.TRANSACTION_ABORTABLE, 11),
      ErrorCode.TRANSACTION_ABORTABLE,
    );
  });

  it('keeps producer state and producer ids across a broker restart', async (t) => {
    const dataDirectory = mkdtempSync(join(tmpdir(), 'brook-idempotence-'));
    const first = await startTestBroker(t, { dataDirectory });
    const client = await RawClient.connect(first.port);
    await createTopic(client, 'kept');
    const { producerId } = await initProducerId(client, 4);
    const batches = [0, 1, 2].map((i) =>
      idempotentBatch(producerId, 0, i * 2, [`v${i}a`, `v${i}b`]),
    );
    for (const bytes of batches) await produce(client, 'kept', bytes);
    client.close();
    await first.stop();
    const second = await startTestBroker(t, { dataDirectory });
    const again = await RawClient.connect(second.port);
    t.after(() => again.close());
    // Registered last, so it runs after both brokers have stopped.
    t.after(() => rmSync(dataDirectory, { recursive: true, force: true }));
    for (const [i, bytes] of batches.entries()) {
      const retry = await produce(again, 'kept', bytes);
      assert.deepEqual([retry.errorCode, retry.baseOffset], [ErrorCode.NONE, BigInt(i * 2)]);
    }
    const gap = await produce(again, 'kept', idempotentBatch(producerId, 0, 7, ['gap']));
    assert.equal(gap.errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    const next = await produce(again, 'kept', idempotentBatch(producerId, 0, 6, ['next']));
    assert.deepEqual([next.errorCode, next.baseOffset], [ErrorCode.NONE, 6n]);
    assert.equal((await valuesOf(again, 'kept')).length, 7);
    // Ids handed out before the restart are never handed out again.
    const fresh = await initProducerId(again, 4);
    assert.ok(fresh.producerId > producerId, `${fresh.producerId} after ${producerId}`);
  });
});

// ---- real clients -------------------------------------------------------------------------------

/** Why a command cannot run here, or undefined. */
function missing(command: string, args: string[]): string | undefined {
  const probe = spawnSync(command, args, { encoding: 'utf8', timeout: 10_000 });
  return probe.error === undefined && probe.status === 0
    ? undefined
    : `${command} ${args.join(' ')} is not available here`;
}

function runCommand(
  command: string,
  args: string[],
  input = '',
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

/** Producer id, epoch, base sequence and record count of every batch stored in a partition. */
async function storedBatches(broker: Broker, topic: string) {
  const log = await broker.context.partitionLog(topic, 0);
  assert.ok(log);
  const read = await log.read(0n, { maxBytes: 1 << 24, minOneBatch: true });
  return splitRecordsBlob(read.records).entries.map((entry) => {
    const header = readRecordBatchHeader(entry.bytes);
    return {
      producerId: header.producerId,
      epoch: header.producerEpoch,
      baseSequence: header.baseSequence,
      count: header.recordCount,
    };
  });
}

/** Splits a byte stream into Kafka frames (size-prefixed). */
function frameSplitter(): (chunk: Buffer) => Buffer[] {
  let pending = Buffer.alloc(0);
  return (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    const frames: Buffer[] = [];
    while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
      const size = 4 + pending.readInt32BE(0);
      frames.push(pending.subarray(0, size));
      pending = pending.subarray(size);
    }
    return frames;
  };
}

/**
 * A TCP proxy in front of the broker that loses the responses to the first `drops` Produce
 * requests: it closes the connection instead of passing them on, after the broker appended.
 */
async function lossyProxy(
  t: { after(fn: () => void): void },
  drops: number,
): Promise<{ port: number; setBrokerPort(port: number): void; dropped(): number }> {
  let brokerPort = 0;
  let dropped = 0;
  const server = createServer((client: Socket) => {
    const upstream = connect({ host: '127.0.0.1', port: brokerPort });
    const produces = new Set<number>();
    const requests = frameSplitter();
    const responses = frameSplitter();
    client.on('data', (chunk: Buffer) => {
      for (const frame of requests(chunk)) {
        if (frame.readInt16BE(4) === ApiKey.Produce) produces.add(frame.readInt32BE(8));
        upstream.write(frame);
      }
    });
    upstream.on('data', (chunk: Buffer) => {
      for (const frame of responses(chunk)) {
        if (dropped < drops && produces.has(frame.readInt32BE(4))) {
          dropped++;
          client.destroy();
          upstream.destroy();
          return;
        }
        if (!client.destroyed) client.write(frame);
      }
    });
    for (const [socket, other] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      socket.on('error', () => other.destroy());
      socket.on('close', () => other.destroy());
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  return {
    port: (server.address() as { port: number }).port,
    setBrokerPort: (port) => {
      brokerPort = port;
    },
    dropped: () => dropped,
  };
}

const CONFLUENT_KAFKA_PRODUCER = `
import json, sys
from confluent_kafka import Producer
producer = Producer({'bootstrap.servers': sys.argv[1], 'enable.idempotence': True,
                     'linger.ms': 20, 'batch.num.messages': 100})
offsets, errors = [], []
def delivered(error, message):
    if error is not None: errors.append(str(error))
    else: offsets.append(message.offset())
for i in range(1000):
    producer.produce('lossy', value=('m%d' % i).encode(), callback=delivered)
    producer.poll(0)
print(json.dumps({'left': producer.flush(30), 'errors': errors[:5], 'offsets': sorted(offsets)}))
`;

describe('idempotent producers: real clients', () => {
  it('librdkafka (kcat, enable.idempotence=true) produces with a producer id and sequences', {
    skip: missing('kcat', ['-V']),
  }, async (t) => {
    const { broker, bootstrap } = await startTestBroker(t);
    const lines = Array.from({ length: 500 }, (_, i) => `line-${i}`);
    const args = ['-b', bootstrap, '-P', '-t', 'kcat-idem', '-X', 'enable.idempotence=true'];
    const result = await runCommand(
      'kcat',
      [...args, '-X', 'batch.num.messages=50'],
      `${lines.join('\n')}\n`,
    );
    assert.equal(result.code, 0, result.stderr);
    const batches = await storedBatches(broker, 'kcat-idem');
    assert.ok(batches.length > 1);
    let sequence = 0;
    for (const stored of batches) {
      assert.ok(stored.producerId >= 0n);
      assert.equal(stored.producerId, batches[0]!.producerId);
      assert.equal(stored.epoch, 0);
      assert.equal(stored.baseSequence, sequence);
      sequence += stored.count;
    }
    assert.equal(sequence, 500);
  });

  it('librdkafka (confluent-kafka) retries after lost responses and each record is stored once', {
    skip: missing('/usr/bin/python3', ['-c', 'import confluent_kafka']),
  }, async (t) => {
    const proxy = await lossyProxy(t, 2);
    const { broker, port } = await startTestBroker(t, {
      properties: { 'advertised.listeners': `PLAINTEXT://127.0.0.1:${proxy.port}` },
    });
    proxy.setBrokerPort(port);
    const result = await runCommand('/usr/bin/python3', [
      '-c',
      CONFLUENT_KAFKA_PRODUCER,
      `127.0.0.1:${proxy.port}`,
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(proxy.dropped(), 2, 'two produce responses were lost');
    const report = JSON.parse(result.stdout) as {
      left: number;
      errors: string[];
      offsets: number[];
    };
    assert.deepEqual([report.left, report.errors], [0, []]);
    assert.deepEqual(
      report.offsets,
      Array.from({ length: 1000 }, (_, i) => i),
      'every record delivered once, at offsets 0-999',
    );
    const batches = await storedBatches(broker, 'lossy');
    assert.equal(
      batches.reduce((sum, stored) => sum + stored.count, 0),
      1000,
      'the retried batches were not written again',
    );
  });
});
