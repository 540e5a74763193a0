/**
 * The sender's idempotence rules, against a scripted broker (a fake connection answering each
 * Produce request as the test says), for the answers a single Brook broker never gives:
 * OUT_OF_ORDER_SEQUENCE_NUMBER after the broker lost a producer's state, one that follows an
 * earlier failure, and NOT_LEADER_OR_FOLLOWER with a metadata refresh. Every request is decoded
 * to check the producer id, epoch and sequences of its batches.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ErrorCode,
  InitProducerIdRequest,
  ProduceRequest,
  type ProduceRequestInput,
  ProduceResponse,
  type ProduceResponseInput,
  Reader,
  readRecordBatchHeader,
} from '@brook/protocol';
import type { Cluster, Connection, TopicInfo } from '../src/index.ts';
import { silentLogger } from '../src/index.ts';
import { BufferMemory, RecordAccumulator } from '../src/producer/accumulator.ts';
import { ProducerIdentity } from '../src/producer/idempotence.ts';
import { QueuedRecord } from '../src/producer/producer-batch.ts';
import { resolveProducerOptions } from '../src/producer/producer-options.ts';
import { Sender } from '../src/producer/sender.ts';

/** What a request carried for one partition. */
interface SentBatch {
  partition: number;
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
  records: number;
}

type Answer = (batch: SentBatch, request: number) => number | { errorCode: number };

/** A broker that answers every Produce as `answer` says and keeps the offsets of what it took. */
class ScriptedBroker {
  readonly sent: SentBatch[][] = [];
  private readonly logEnd = new Map<number, number>();
  private readonly answer: Answer;
  /** How long each answer takes. */
  answerAfterMs = 0;
  metadataRefreshes = 0;
  producerIds = 0;
  inflight = 0;
  maxInflight = 0;

  constructor(answer: Answer) {
    this.answer = answer;
  }

  private produce(body: ProduceRequestInput): ProduceResponse {
    const request = this.sent.length;
    const batches: SentBatch[] = [];
    const responses: ProduceResponseInput['responses'][number][] = [];
    for (const topic of body.topicData) {
      const partitionResponses = [];
      for (const data of topic.partitionData) {
        const header = readRecordBatchHeader(Buffer.from(data.records!));
        const batch = {
          partition: data.index,
          producerId: header.producerId,
          producerEpoch: header.producerEpoch,
          baseSequence: header.baseSequence,
          records: header.recordCount,
        };
        batches.push(batch);
        const answer = this.answer(batch, request);
        if (typeof answer === 'object') {
          partitionResponses.push({
            index: data.index,
            errorCode: answer.errorCode,
            baseOffset: -1n,
          });
        } else {
          const offset = this.logEnd.get(data.index) ?? 0;
          this.logEnd.set(data.index, offset + batch.records);
          partitionResponses.push({ index: data.index, errorCode: 0, baseOffset: BigInt(offset) });
        }
      }
      responses.push({ name: topic.name, partitionResponses });
    }
    this.sent.push(batches);
    const bytes = ProduceResponse.encode({ responses }, 11);
    return ProduceResponse.decode(new Reader(bytes), 11);
  }

  connection(): Connection {
    const fake = {
      closed: false,
      address: 'scripted:9092',
      versionFor: () => 11,
      request: (codec: unknown, _response: unknown, body: unknown) => {
        if (codec === InitProducerIdRequest) {
          this.producerIds++;
          return Promise.resolve({
            errorCode: 0,
            producerId: 7000n + BigInt(this.producerIds),
            producerEpoch: 0,
          });
        }
        assert.equal(codec, ProduceRequest);
        // Answers come after the request went out, as over a socket.
        this.inflight++;
        this.maxInflight = Math.max(this.maxInflight, this.inflight);
        return new Promise((resolve) =>
          setTimeout(() => {
            this.inflight--;
            resolve(this.produce(body as ProduceRequestInput));
          }, this.answerAfterMs),
        );
      },
    };
    return fake as unknown as Connection;
  }

  cluster(partitions: number): Cluster {
    const topic: TopicInfo = {
      name: 't',
      topicId: '00000000-0000-0000-0000-000000000000',
      isInternal: false,
      partitions: Array.from({ length: partitions }, (_, partition) => ({
        partition,
        leader: 1,
        leaderEpoch: 0,
        replicas: [1],
        isr: [1],
        errorCode: 0,
      })),
    };
    const fake = {
      signal: new AbortController().signal,
      cachedTopic: () => topic,
      topic: async () => topic,
      connection: async () => this.connection(),
      anyConnection: async () => this.connection(),
      invalidateMetadata: () => {},
      refreshMetadata: async () => {
        this.metadataRefreshes++;
      },
    };
    return fake as unknown as Cluster;
  }
}

/** A sender over the scripted broker; `send` adds records and resolves with their offsets. */
function setUp(broker: ScriptedBroker, partitions = 1, settings: { lingerMs?: number } = {}) {
  const options = resolveProducerOptions({
    bootstrapServers: ['scripted:9092'],
    lingerMs: settings.lingerMs ?? 0,
    retryBackoffMs: 5,
    retryBackoffMaxMs: 10,
  });
  const cluster = broker.cluster(partitions);
  const memory = new BufferMemory(options.bufferMemoryBytes);
  let sender: Sender | undefined;
  const accumulator = new RecordAccumulator({
    batchSizeBytes: options.batchSizeBytes,
    maxRequestSizeBytes: options.maxRequestSizeBytes,
    deliveryTimeoutMs: options.deliveryTimeoutMs,
    compression: options.compression,
    onReady: () => sender?.wake(),
    onOpen: (batch) => sender?.batchOpened(batch),
  });
  sender = new Sender({
    options: options as never,
    cluster,
    accumulator,
    memory,
    identity: new ProducerIdentity(cluster, { initialBackoffMs: 5 }),
    logger: silentLogger,
  });
  return (partition: number, count: number) => {
    const records = Array.from({ length: count }, () => {
      const record = new QueuedRecord(
        't',
        partition,
        null,
        Buffer.from('v'),
        undefined,
        Date.now(),
        30,
        Date.now(),
        undefined,
        0,
      );
      memory.tryReserve(record.sizeBytes);
      accumulator.append(partition, record, Date.now());
      return record.promise!;
    });
    return Promise.all(records);
  };
}

const summary = (b: SentBatch) => [b.partition, b.producerEpoch, b.baseSequence, b.records];

describe('sender linger', () => {
  it('sends at once to a leader with less than two requests out, and lingers behind two', async () => {
    const broker = new ScriptedBroker(() => 0);
    broker.answerAfterMs = 300;
    const send = setUp(broker, 1, { lingerMs: 60_000 });
    const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    const first = send(0, 1); // nothing in flight: goes out at once
    await pause(30);
    const second = send(0, 1); // one request in flight: goes out at once too
    await pause(100);
    const third = send(0, 1); // two in flight: waits for an answer (lingerMs is a minute)
    await pause(50);
    assert.equal(broker.inflight, 2, 'the third batch waits');
    await first;
    await pause(5);
    assert.equal(broker.sent.length, 1, 'the second answer is not in yet');
    assert.equal(broker.inflight, 2, 'the first answer let the third batch go');
    await third;
    await second;
    assert.deepEqual(broker.sent.flat().map(summary), [
      [0, 0, 0, 1],
      [0, 0, 1, 1],
      [0, 0, 2, 1],
    ]);
  });
});

describe('sender idempotence', () => {
  it('starts the partition over with a new epoch when the broker lost the producer state', async () => {
    let refused = false;
    const broker = new ScriptedBroker((batch) => {
      // The second batch, the next in sequence, is refused once: the broker forgot the producer.
      if (batch.baseSequence === 3 && batch.producerEpoch === 0 && !refused) {
        refused = true;
        return { errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER };
      }
      return 0;
    });
    const send = setUp(broker);
    await send(0, 3);
    const answers = await send(0, 2);
    assert.deepEqual(
      answers.map((a) => a.offset),
      [3n, 4n],
    );
    assert.deepEqual(broker.sent.flat().map(summary), [
      [0, 0, 0, 3],
      [0, 0, 3, 2], // refused
      [0, 1, 0, 2], // epoch 1, sequences from 0
    ]);
    assert.equal(new Set(broker.sent.flat().map((b) => b.producerId)).size, 1);
    assert.equal(broker.producerIds, 1, 'a local epoch bump, no new producer id');
  });

  it('retries an out-of-order batch behind a failed one with its sequences', async () => {
    const refusals: number[] = [];
    const broker = new ScriptedBroker((batch, request) => {
      // The first batch fails (not the leader); the one pipelined after it is then out of order.
      if (request === 0) {
        refusals.push(ErrorCode.NOT_LEADER_OR_FOLLOWER);
        return { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER };
      }
      if (request === 1 && batch.baseSequence === 1) {
        refusals.push(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
        return { errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER };
      }
      return 0;
    });
    broker.answerAfterMs = 30;
    const send = setUp(broker);
    const first = send(0, 1);
    while (broker.inflight === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    const second = send(0, 1); // goes out while the first is in flight
    const answers = [...(await first), ...(await second)];
    assert.deepEqual(
      answers.map((a) => a.offset),
      [0n, 1n],
    );
    assert.deepEqual(refusals, [
      ErrorCode.NOT_LEADER_OR_FOLLOWER,
      ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
    ]);
    // The same epoch and sequences, in order, after both came back.
    assert.deepEqual(broker.sent.flat().map(summary).slice(-2), [
      [0, 0, 0, 1],
      [0, 0, 1, 1],
    ]);
    assert.ok(broker.metadataRefreshes >= 1, 'NOT_LEADER_OR_FOLLOWER refreshes metadata');
  });

  it('keeps at most five batches of a partition in flight', async () => {
    const broker = new ScriptedBroker(() => 0);
    const send = setUp(broker, 1);
    // 6000 records of 30 bytes: 11 batches of 16 KiB for one partition.
    broker.answerAfterMs = 5;
    await send(0, 6000);
    let sequence = 0;
    for (const request of broker.sent) {
      assert.equal(request.length, 1, 'one batch per partition per request');
      assert.equal(request[0]!.baseSequence, sequence);
      sequence += request[0]!.records;
    }
    assert.equal(sequence, 6000);
    assert.equal(broker.maxInflight, 5, 'pipelined, five at a time');
  });
});
