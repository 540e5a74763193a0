import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ApiKey,
  CreateTopicsRequest,
  CreateTopicsResponse,
  decodeRecordBatches,
  ErrorCode,
  encodeRecordBatch,
  FetchRequest,
  FetchResponse,
  ProduceRequest,
  ProduceResponse,
  readResponseFrame,
  Writer,
  writeRequestFrame,
} from '@brook/protocol';
import { ReadBufferPool } from '../src/fetch/read-buffer-pool.ts';
import { RawClient, startTestBroker } from './helpers.ts';

describe('ReadBufferPool', () => {
  it('hands out views of class buffers, and reuses one only once it is given back', (t) => {
    const pool = new ReadBufferPool({
      maxIdleBytes: 1 << 30,
      maxBufferBytes: 1 << 24,
      idleMs: 60_000,
    });
    t.after(() => pool.clear());
    const first = pool.acquire(100_000);
    assert.equal(first.length, 100_000);
    assert.equal(first.buffer.byteLength, 112 * 1024, 'a class: 64 KiB + 3 × 16 KiB');
    const second = pool.acquire(100_000);
    assert.notEqual(second.buffer, first.buffer, 'a leased buffer is not handed out again');
    pool.release(first);
    assert.equal(pool.idleBytes, 112 * 1024);
    const third = pool.acquire(100_000);
    assert.equal(third.buffer, first.buffer, 'a returned buffer is reused');
    pool.release(first);
    pool.release(third);
    assert.equal(pool.idleBytes, 112 * 1024, 'a second release of the same buffer is ignored');
    assert.equal(pool.acquire(99_000).buffer, first.buffer);
    assert.equal(pool.acquire(99_000).buffer === first.buffer, false);
    assert.equal(pool.acquire(80_000).buffer.byteLength, 80 * 1024, 'another class');
  });

  it('leaves small and huge requests to plain allocations, and keeps at most maxIdleBytes', (t) => {
    const pool = new ReadBufferPool({
      maxIdleBytes: 256 * 1024,
      maxBufferBytes: 1 << 24,
      idleMs: 60_000,
    });
    t.after(() => pool.clear());
    const small = pool.acquire(100);
    const huge = pool.acquire(17 * 1024 * 1024);
    assert.equal(pool.leasedCount, 0);
    pool.release(small);
    pool.release(huge);
    assert.equal(pool.idleBytes, 0);
    const lease = pool.lease();
    for (let i = 0; i < 5; i++) lease.allocate(120_000);
    assert.equal(pool.leasedCount, 5);
    lease.release();
    assert.equal(pool.leasedCount, 0);
    assert.equal(pool.idleBytes, 256 * 1024, 'two of the five are kept');
  });

  it('drops buffers idle for idleMs', (t) => {
    const pool = new ReadBufferPool({
      maxIdleBytes: 1 << 30,
      maxBufferBytes: 1 << 24,
      idleMs: 1000,
    });
    t.after(() => pool.clear());
    const old = pool.acquire(10_000);
    pool.release(old);
    pool.trim(Date.now() + 500);
    assert.equal(pool.idleBytes, 64 * 1024);
    pool.trim(Date.now() + 1000);
    assert.equal(pool.idleBytes, 0);
  });
});

async function createTopic(client: RawClient, name: string): Promise<void> {
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

/**
 * Appends `batches` batches of `size` records whose values name their offset (and, by their
 * last letter, the batch of 100 offsets they belong to), 200 bytes each.
 */
async function fill(client: RawClient, topic: string, first: number, batches: number, size = 100) {
  for (let b = 0; b < batches; b++) {
    const base = first + b * size;
    const records = encodeRecordBatch({
      baseTimestamp: 1_700_000_000_000n,
      records: Array.from({ length: size }, (_, i) => ({
        offsetDelta: i,
        key: null,
        value: Buffer.from(`${base + i}:`.padEnd(200, letterOf(base + i))),
      })),
    });
    const response = await client.request(ApiKey.Produce, 9, ProduceRequest, ProduceResponse, {
      acks: 1,
      timeoutMs: 5000,
      topicData: [{ name: topic, partitionData: [{ index: 0, records }] }],
    });
    assert.equal(response.responses[0]?.partitionResponses[0]?.errorCode, ErrorCode.NONE);
  }
}

function letterOf(offset: number): string {
  return String.fromCharCode(97 + (Math.floor(offset / 100) % 26));
}

function fetchFrame(
  correlationId: number,
  topic: string,
  offset: bigint,
  maxBytes: number,
  maxWaitMs: number,
) {
  const writer = new Writer();
  writeRequestFrame(
    writer,
    { apiKey: ApiKey.Fetch, apiVersion: 11, correlationId, clientId: 'buffers' },
    (w) =>
      FetchRequest.write(
        w,
        {
          maxWaitMs,
          minBytes: 1,
          maxBytes,
          topics: [
            {
              topic,
              partitions: [{ partition: 0, fetchOffset: offset, partitionMaxBytes: maxBytes }],
            },
          ],
        },
        11,
      ),
  );
  return writer.toBuffer();
}

/** Every record of a Fetch response frame holds the value its offset was produced with. */
function checkResponse(frame: Buffer, from: bigint): number {
  const { body } = readResponseFrame(frame, ApiKey.Fetch, 11);
  const response = FetchResponse.decode(body, 11);
  const records = response.responses[0]?.partitions[0]?.records;
  assert.ok(records && records.length > 0, `records at ${from}`);
  let count = 0;
  let next: bigint | undefined;
  for (const batch of decodeRecordBatches(records).batches) {
    const last = batch.baseOffset + BigInt(batch.records.length) - 1n;
    // The first batch holds the offset asked for, and the others follow without a gap.
    if (next === undefined) assert.ok(batch.baseOffset <= from && from <= last, `batch at ${from}`);
    else assert.equal(batch.baseOffset, next, `the batch after ${next - 1n}`);
    next = last + 1n;
    for (const record of batch.records) {
      const offset = batch.baseOffset + BigInt(record.offsetDelta);
      const value = record.value!.toString();
      assert.equal(value.split(':')[0], String(offset), `value of ${offset}`);
      assert.equal(value.at(-1), letterOf(Number(offset)));
      count++;
    }
  }
  assert.ok(count > 0);
  return count;
}

describe('Fetch read buffers', () => {
  it('never reuses a buffer before its response has left, with responses queued behind a slow reader', async (t) => {
    const { broker, port } = await startTestBroker(t);
    const producer = await RawClient.connect(port);
    t.after(() => producer.close());
    await createTopic(producer, 'buffers');
    await fill(producer, 'buffers', 0, 100);
    const client = await RawClient.connect(port);
    t.after(() => client.close());
    // 30 fetches at different offsets sent at once while the client reads nothing: their
    // responses back up in the broker's socket. Then 10 long polls at the log end, which read
    // once a batch of 200 KB arrives, into buffers of the same size class, while those wait.
    const offsets = Array.from({ length: 30 }, (_, i) => BigInt((i * 331) % 9_900));
    const polls = Array.from({ length: 10 }, () => 10_000n);
    const frames = [...offsets, ...polls].map(() => client.next());
    client.socket.pause();
    for (const [i, offset] of offsets.entries()) {
      client.socket.write(fetchFrame(1000 + i, 'buffers', offset, 200_000, 0));
    }
    for (const [i, offset] of polls.entries()) {
      client.socket.write(fetchFrame(2000 + i, 'buffers', offset, 200_000, 5000));
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.ok(broker.context.readBuffers.leasedCount > 0, 'responses wait with their buffers');
    await fill(producer, 'buffers', 10_000, 1, 1000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    client.socket.resume();
    for (const [i, frame] of frames.entries()) {
      checkResponse(await frame, i < offsets.length ? offsets[i]! : polls[i - offsets.length]!);
    }
    await waitFor(() => broker.context.readBuffers.leasedCount === 0);
    assert.ok(broker.context.readBuffers.idleBytes > 0, 'the buffers went back to the pool');
  });

  it('gives the buffers back when the client goes away with responses unread', async (t) => {
    const { broker, port } = await startTestBroker(t);
    const setup = await RawClient.connect(port);
    t.after(() => setup.close());
    await createTopic(setup, 'gone');
    await fill(setup, 'gone', 0, 100);
    const client = await RawClient.connect(port);
    client.socket.pause();
    for (let i = 0; i < 40; i++) client.socket.write(fetchFrame(i, 'gone', 0n, 500_000, 0));
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.ok(broker.context.readBuffers.leasedCount > 0);
    client.close();
    await waitFor(() => broker.context.readBuffers.leasedCount === 0);
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
