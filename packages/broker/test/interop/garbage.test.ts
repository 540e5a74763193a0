/**
 * A client that sends garbage does not disturb another client's stream.
 *
 * While a kafkajs producer streams records (acks=all) and a @platformatic/kafka consumer tails
 * them by assignment, other connections send, round after round: a frame too large to be one,
 * a negative size, an unknown api key, an unsupported version, an unreadable header, a Produce
 * whose body does not decode, a frame cut short, a frame left half sent, ApiVersions from the
 * future, a record batch with a bad CRC, a records blob of noise, and a valid request trickled
 * byte by byte. Each garbage connection gets what Kafka would give it (closed, or an error in
 * the response), and the stream arrives whole, in order, with every record intact.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import {
  ApiKey,
  ApiVersionsRequest,
  ApiVersionsResponse,
  ErrorCode,
  encodeRecordBatch,
  FrameDecoder,
  MetadataRequest,
  MetadataResponse,
  ProduceRequest,
  ProduceResponse,
  readResponseFrame,
  Writer,
  writeRequestFrame,
} from '@brook/protocol';
import kafkajs, { Kafka } from 'kafkajs';
import { RawClient, startTestBroker } from '../helpers.ts';
import { readPartitions } from './platformatic-reader.ts';

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
const { logLevel } = kafkajs;

const TOPIC = 'stream';
const SENDS = 60;
const PER_SEND = 5;

/** A raw connection that records whether (and when) the broker closed it. */
async function rawSocket(port: number): Promise<{ socket: Socket; closed: Promise<void> }> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  socket.on('data', () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { socket, closed };
}

function frame(apiKey: number, apiVersion: number, body: Buffer, clientId = 'garbage'): Buffer {
  const writer = new Writer();
  writeRequestFrame(writer, { apiKey, apiVersion, correlationId: 7, clientId }, (w) =>
    w.writeBytes(body),
  );
  return writer.toBuffer();
}

/** Sends bytes on a new connection; resolves once the broker has closed it (or fails). */
async function expectClosed(port: number, what: string, bytes: Buffer): Promise<void> {
  const { socket, closed } = await rawSocket(port);
  socket.write(bytes);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const outcome = await Promise.race([
    closed.then(() => 'closed' as const),
    new Promise<'open'>((resolve) => {
      timer = setTimeout(() => resolve('open'), 3000);
    }),
  ]);
  clearTimeout(timer);
  socket.destroy();
  assert.equal(outcome, 'closed', `the broker should close a connection that sent ${what}`);
}

/** One round of garbage, each kind on its own connection. */
async function garbageRound(port: number, round: number): Promise<void> {
  const sizePrefixed = (size: number, body: Buffer) => {
    const prefix = Buffer.alloc(4);
    prefix.writeInt32BE(size);
    return Buffer.concat([prefix, body]);
  };
  const unknownKey = frame(0, 9, Buffer.alloc(0));
  unknownKey.writeInt16BE(32000, 4);
  const headerOnly = Buffer.alloc(12);
  headerOnly.writeInt32BE(8);
  headerOnly.writeInt16BE(ApiKey.Metadata, 4);
  headerOnly.writeInt16BE(1, 6);
  // client id length beyond the frame: the header cannot be read.
  const badHeader = Buffer.concat([headerOnly.subarray(0, 12), Buffer.from([0x7f, 0xff])]);
  badHeader.writeInt32BE(badHeader.length - 4);
  await Promise.all([
    expectClosed(
      port,
      'a frame size above socket.request.max.bytes',
      sizePrefixed(0x7fffffff, randomBytes(1024)),
    ),
    expectClosed(port, 'a negative frame size', sizePrefixed(-1, randomBytes(64))),
    expectClosed(port, 'an unknown api key', unknownKey),
    expectClosed(port, 'Metadata v99', frame(ApiKey.Metadata, 99, Buffer.alloc(8))),
    expectClosed(port, 'an unreadable request header', badHeader),
    expectClosed(
      port,
      'a Produce v9 body of 0xff bytes',
      frame(ApiKey.Produce, 9, Buffer.alloc(1000, 0xff)),
    ),
    expectClosed(
      port,
      'a Metadata v1 body of random bytes',
      frame(
        ApiKey.Metadata,
        1,
        Buffer.concat([Buffer.from([0x7f, 0xff, 0xff, 0xff]), randomBytes(200)]),
      ),
    ),
    // A frame cut short, then the client half-closes: the broker must not wait forever.
    (async () => {
      const { socket, closed } = await rawSocket(port);
      socket.end(sizePrefixed(100, randomBytes(10)));
      await closed;
    })(),
    // ApiVersions from the future: answered in v0 with UNSUPPORTED_VERSION, connection kept.
    (async () => {
      const client = await RawClient.connect(port);
      try {
        const bytes = frame(ApiKey.ApiVersions, 99, randomBytes(30));
        const response = client.next();
        client.socket.write(bytes);
        const answer = await response;
        assert.equal(answer.readInt16BE(4), ErrorCode.UNSUPPORTED_VERSION, 'ApiVersions v99');
        const versions = await client.request(
          ApiKey.ApiVersions,
          3,
          ApiVersionsRequest,
          ApiVersionsResponse,
          { clientSoftwareName: 'garbage', clientSoftwareVersion: `${round}` },
        );
        assert.equal(versions.errorCode, ErrorCode.NONE, 'ApiVersions v3 after v99');
      } finally {
        client.close();
      }
    })(),
    // Well-formed Produce requests with bad records: an error for the partition, nothing stored.
    (async () => {
      const client = await RawClient.connect(port);
      try {
        const badCrc = encodeRecordBatch({
          baseTimestamp: BigInt(Date.now()),
          records: [{ offsetDelta: 0, key: null, value: Buffer.from('corrupt') }],
        });
        badCrc.writeUInt8(badCrc.readUInt8(badCrc.length - 1) ^ 0xff, badCrc.length - 1);
        const tooShort = Buffer.alloc(80);
        tooShort.writeInt32BE(5, 8); // a batch length below any batch's
        tooShort.writeInt8(2, 16);
        const badMagic = Buffer.alloc(80);
        badMagic.writeInt32BE(68, 8);
        badMagic.writeInt8(17, 16);
        const cases: [string, Buffer, number | undefined][] = [
          ['a batch whose CRC does not match', badCrc, ErrorCode.CORRUPT_MESSAGE],
          ['a batch length below the minimum', tooShort, ErrorCode.CORRUPT_MESSAGE],
          // Kafka: CORRUPT_MESSAGE (invalid magic); Brook answers UNSUPPORTED_FOR_MESSAGE_FORMAT.
          ['magic 17', badMagic, undefined],
          ['random bytes', randomBytes(300), undefined],
        ];
        for (const [what, records, errorCode] of cases) {
          const response = await client.request(
            ApiKey.Produce,
            9,
            ProduceRequest,
            ProduceResponse,
            {
              acks: -1,
              timeoutMs: 5000,
              topicData: [{ name: TOPIC, partitionData: [{ index: 0, records }] }],
            },
          );
          const partition = response.responses[0]?.partitionResponses[0];
          const detail = `Produce with ${what}: ${partition?.errorCode} ${partition?.errorMessage}`;
          if (errorCode === undefined)
            assert.notEqual(partition?.errorCode, ErrorCode.NONE, detail);
          else assert.equal(partition?.errorCode, errorCode, detail);
        }
      } finally {
        client.close();
      }
    })(),
    // A valid Metadata request trickled one byte at a time is answered.
    (async () => {
      const { socket, closed } = await rawSocket(port);
      const writer = new Writer();
      writeRequestFrame(
        writer,
        { apiKey: ApiKey.Metadata, apiVersion: 9, correlationId: 99, clientId: 'trickle' },
        (w) =>
          MetadataRequest.write(
            w,
            {
              topics: [{ topicId: '00000000-0000-0000-0000-000000000000', name: TOPIC }],
              allowAutoTopicCreation: false,
              includeTopicAuthorizedOperations: false,
            },
            9,
          ),
      );
      const decoder = new FrameDecoder({ maxFrameBytes: 1 << 20 });
      const answer = new Promise<Buffer>((resolve) =>
        socket.on('data', (chunk: Buffer) => {
          const [first] = decoder.push(chunk);
          if (first) resolve(first);
        }),
      );
      for (const byte of writer.toBuffer()) {
        socket.write(Buffer.from([byte]));
        await new Promise((resolve) => setImmediate(resolve));
      }
      const { header, body } = readResponseFrame(await answer, ApiKey.Metadata, 9);
      assert.equal(header.correlationId, 99);
      assert.equal(MetadataResponse.decode(body, 9).topics[0]?.name, TOPIC);
      socket.destroy();
      await closed;
    })(),
  ]);
}

test('a client sending garbage does not disturb another client’s stream', async (t) => {
  const { broker, port, bootstrap } = await startTestBroker(t);
  // A connection that sends half a frame and then nothing stays open all along.
  const stalled = await rawSocket(port);
  stalled.socket.write(Buffer.from([0, 0, 0x10, 0, 0, 3, 0, 1]));
  t.after(() => stalled.socket.destroy());

  const kafka = new Kafka({
    clientId: 'brook-interop-stream',
    brokers: [bootstrap],
    logLevel: logLevel.ERROR,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 2 }], waitForLeaders: true });
  await admin.disconnect();
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  t.after(() => producer.disconnect());

  const value = (send: number, j: number) => `send-${send} record-${j}`;
  const perPartition = new Map([
    [0, BigInt((SENDS / 2) * PER_SEND)],
    [1, BigInt((SENDS / 2) * PER_SEND)],
  ]);
  // The consumer tails both partitions while the stream is written.
  const consumed = readPartitions(bootstrap, TOPIC, {
    untilOffsets: perPartition,
    timeoutMs: 30_000,
  }).then(
    (read) => ({ read }),
    (error: unknown) => ({ error }),
  );
  let streaming = true;
  let aborted = false;
  const stream = (async () => {
    const bases: string[] = [];
    try {
      for (let send = 0; send < SENDS && !aborted; send++) {
        const [metadata] = await producer.send({
          topic: TOPIC,
          acks: -1,
          messages: Array.from({ length: PER_SEND }, (_, j) => ({
            partition: send % 2,
            key: `k-${send}`,
            value: value(send, j),
          })),
        });
        bases.push(`p${metadata?.partition}@${metadata?.baseOffset}`);
      }
    } finally {
      streaming = false;
    }
    return bases;
  })();
  let rounds = 0;
  try {
    while (streaming || rounds < 3) await garbageRound(port, rounds++);
  } catch (error) {
    aborted = true;
    await Promise.allSettled([stream]);
    throw error;
  }

  const bases = await stream;
  assert.deepEqual(
    bases,
    Array.from({ length: SENDS }, (_, send) => `p${send % 2}@${Math.floor(send / 2) * PER_SEND}`),
    'the producer was acknowledged with consecutive offsets',
  );
  const outcome = await consumed;
  if ('error' in outcome) throw outcome.error;
  const { records } = outcome.read;
  for (const partition of [0, 1]) {
    const mine = records.filter((r) => r.partition === partition);
    assert.deepEqual(
      mine.map((r) => `${r.offset} ${r.key?.toString()} ${r.value?.toString()}`),
      Array.from({ length: SENDS / 2 }, (_, i) => i * 2 + partition).flatMap((send) =>
        Array.from(
          { length: PER_SEND },
          (_, j) => `${Math.floor(send / 2) * PER_SEND + j} k-${send} ${value(send, j)}`,
        ),
      ),
      `partition ${partition} as the consumer read it`,
    );
  }
  // Nothing the garbage sent was stored.
  const log = await broker.context.partitionLog(TOPIC, 0);
  assert.equal(log?.logEndOffset, perPartition.get(0));
  assert.equal(stalled.socket.destroyed, false, 'the stalled connection is still open');
  t.diagnostic(`${rounds} rounds of garbage while ${SENDS} sends streamed`);
});
