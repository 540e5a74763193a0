/**
 * Drives @platformatic/kafka against the capture server. It speaks recent, flexible versions
 * (compact strings and arrays, tagged fields), which the other clients barely send:
 *
 * - admin: CreateTopics for the golden topics, then Metadata (listTopics);
 * - an idempotent producer (InitProducerId) sends the records with each codec the library has
 *   built in: none, gzip, snappy and lz4 (WebAssembly), and zstd where node:zlib has it;
 * - a consumer group with the classic protocol reads them back from the earliest offsets:
 *   FindCoordinator, JoinGroup, SyncGroup, ListOffsets, Fetch, OffsetCommit, OffsetFetch,
 *   Heartbeat, LeaveGroup; while it is a member the admin runs DescribeGroups and ListGroups;
 * - a second group does the same with the consumer protocol of KIP-848: ConsumerGroupHeartbeat
 *   instead of JoinGroup, SyncGroup, Heartbeat and LeaveGroup.
 *
 *   node tools/capture/clients/platformatic-client.ts --bootstrap 127.0.0.1:PORT --sent sent.json
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  Admin,
  type CompressionAlgorithmValue,
  Consumer,
  compressionsAlgorithms,
  GroupProtocols,
  type MessageToProduce,
  ProduceAcks,
  Producer,
} from '@platformatic/kafka';
import {
  bytesOf,
  CODECS,
  type Codec,
  loadRecords,
  type SentBatch,
  type SentLog,
  topicFor,
} from '../records.ts';

const { values } = parseArgs({
  options: {
    bootstrap: { type: 'string' },
    sent: { type: 'string' },
    records: { type: 'string' },
  },
  strict: true,
});
if (values.bootstrap === undefined || values.sent === undefined) {
  console.error('usage: platformatic-client.ts --bootstrap HOST:PORT --sent FILE [--records FILE]');
  process.exit(2);
}
const bootstrap = values.bootstrap;

// The package exports only dist/index.js; its package.json is one folder above that.
const packageJson = fileURLToPath(
  new URL('../package.json', import.meta.resolve('@platformatic/kafka')),
);
const version = (JSON.parse(readFileSync(packageJson, 'utf8')) as { version: string }).version;
const records = loadRecords(values.records);
const GROUP_ID = 'golden-group-platformatic';
const common = {
  bootstrapBrokers: [bootstrap],
  retries: 3,
  retryDelay: 100,
  timeout: 10_000,
};

const watchdog = setTimeout(() => {
  console.error('platformatic driver: no end after 90 s');
  process.exit(1);
}, 90_000);

/** Codecs the library can compress with here (zstd needs a node:zlib that has it). */
const notes: string[] = [];
const codecs: Codec[] = [];
for (const codec of CODECS) {
  if (compressionsAlgorithms[codec].available) codecs.push(codec);
  else notes.push(`${codec}: not available in this Node.js, so not captured.`);
}
const topics = codecs.map(topicFor);

const admin = new Admin({ ...common, clientId: 'golden-platformatic-admin' });
await admin.createTopics({ topics, partitions: 1, replicas: 1 });
const listed = await admin.listTopics();
for (const topic of topics) {
  if (!listed.includes(topic)) throw new Error(`listTopics did not list ${topic}: ${listed}`);
}

const produced: SentBatch[] = [];
const producer = new Producer({
  ...common,
  clientId: 'golden-platformatic-producer',
  // Idempotent: InitProducerId, and batches with a producer id, epoch and sequence.
  idempotent: true,
  acks: ProduceAcks.ALL,
});
for (const codec of codecs) {
  const topic = topicFor(codec);
  const messages: MessageToProduce[] = records.map((record) => {
    const headers = new Map<Buffer, Buffer>();
    for (const header of record.headers) {
      const value = bytesOf(header.value);
      if (value === null) throw new Error('records.json: a null header value cannot be sent');
      headers.set(Buffer.from(header.key, 'utf8'), value);
    }
    // A null value is passed as null: the library's option schema requires the property (its
    // types say Buffer only). A null key is an absent one.
    const message = {
      topic,
      partition: 0,
      headers,
      value: bytesOf(record.value),
    } as MessageToProduce;
    const key = bytesOf(record.key);
    if (key !== null) message.key = key;
    if (record.timestamp !== null) message.timestamp = BigInt(record.timestamp);
    return message;
  });
  await producer.send({ messages, compression: codec as CompressionAlgorithmValue });
  produced.push({ topic, partition: 0, compression: codec, records });
}
await producer.close();

const expected = produced.length * records.length;

/**
 * Reads every record back in a consumer group from the earliest offsets, commits the end of
 * every partition in one OffsetCommit, checks it with an OffsetFetch, runs `whileMember`, lets
 * a few heartbeats go out and leaves the group.
 */
async function consumeAll(
  consumer: Consumer,
  whileMember: () => Promise<unknown> = () => Promise.resolve(),
): Promise<void> {
  const stream = await consumer.consume({ topics, mode: 'earliest', autocommit: false });
  let received = 0;
  const done = Promise.withResolvers<void>();
  stream.on('data', () => {
    received += 1;
    if (received === expected) done.resolve();
  });
  stream.on('error', (error: Error) => done.reject(error));
  const timeout = setTimeout(() => {
    console.error(`platformatic ${consumer.groupId}: got ${received} of ${expected} records`);
    process.exit(1);
  }, 30_000);
  await done.promise;
  clearTimeout(timeout);
  // The position of every partition: the offset of the next record to read.
  await consumer.commit({
    offsets: topics.map((topic) => ({
      topic,
      partition: 0,
      offset: BigInt(records.length),
      leaderEpoch: 0,
    })),
  });
  const committed = await consumer.listCommittedOffsets({
    topics: topics.map((topic) => ({ topic, partitions: [0] })),
  });
  for (const topic of topics) {
    const offset = committed.get(topic)?.[0];
    if (offset !== BigInt(records.length)) {
      throw new Error(`committed offset of ${topic} is ${offset}, not ${records.length}`);
    }
  }
  await whileMember();
  await new Promise((resolve) => setTimeout(resolve, 600));
  await stream.close();
  await consumer.close();
}

// The classic protocol: JoinGroup, SyncGroup, Heartbeat, LeaveGroup; the admin describes the
// group while the consumer is its member.
await consumeAll(
  new Consumer({
    ...common,
    clientId: 'golden-platformatic-consumer',
    groupId: GROUP_ID,
    sessionTimeout: 6000,
    rebalanceTimeout: 6000,
    heartbeatInterval: 100,
    maxWaitTime: 200,
  }),
  async () => {
    await admin.describeGroups({ groups: [GROUP_ID] });
    await admin.listGroups();
  },
);
// The consumer protocol of KIP-848: ConsumerGroupHeartbeat joins, heartbeats and leaves.
await consumeAll(
  new Consumer({
    ...common,
    clientId: 'golden-platformatic-consumer-848',
    groupId: `${GROUP_ID}-848`,
    groupProtocol: GroupProtocols.CONSUMER,
    maxWaitTime: 200,
  }),
);
await admin.close();
clearTimeout(watchdog);

const sent: SentLog = {
  client: 'platformatic',
  software: `@platformatic/kafka ${version}`,
  notes: [
    ...notes,
    'Idempotent producer. Admin: CreateTopics, Metadata, DescribeGroups, ListGroups.',
    'Two consumer groups read everything from the earliest offsets and commit once: one with the classic protocol (JoinGroup…), one with the consumer protocol of KIP-848 (ConsumerGroupHeartbeat).',
  ],
  produced,
};
writeFileSync(values.sent, `${JSON.stringify(sent, null, 2)}\n`);
