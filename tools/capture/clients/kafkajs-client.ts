/**
 * Drives kafkajs against the capture server: produce the records with each codec kafkajs has
 * built in (none, gzip; snappy, lz4 and zstd need codec packages it does not ship), then a
 * consumer group reads them back (kafkajs has no consumer without a group): FindCoordinator,
 * JoinGroup, SyncGroup, OffsetFetch, ListOffsets, Fetch, Heartbeat, OffsetCommit, LeaveGroup.
 *
 *   node tools/capture/clients/kafkajs-client.ts --bootstrap 127.0.0.1:PORT --sent sent.json
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { CompressionTypes, type IHeaders, Kafka, logLevel, type Message } from 'kafkajs';
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
  console.error('usage: kafkajs-client.ts --bootstrap HOST:PORT --sent FILE [--records FILE]');
  process.exit(2);
}

const packageJson = createRequire(import.meta.url).resolve('kafkajs/package.json');
const version = (JSON.parse(readFileSync(packageJson, 'utf8')) as { version: string }).version;
const records = loadRecords(values.records);
const builtIn: Partial<Record<Codec, CompressionTypes>> = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
};

const kafka = new Kafka({
  clientId: 'golden-kafkajs',
  brokers: [values.bootstrap],
  logLevel: logLevel.WARN,
  retry: { retries: 3, initialRetryTime: 100 },
});

const produced: SentBatch[] = [];
const producer = kafka.producer({ allowAutoTopicCreation: true });
await producer.connect();
for (const codec of CODECS) {
  const compression = builtIn[codec];
  if (compression === undefined) continue;
  const topic = topicFor(codec);
  const messages: Message[] = records.map((record) => {
    const headers: IHeaders = {};
    for (const header of record.headers) {
      const value = bytesOf(header.value);
      if (value !== null) headers[header.key] = value;
    }
    const message: Message = {
      partition: 0,
      key: bytesOf(record.key),
      value: bytesOf(record.value),
      headers,
    };
    if (record.timestamp !== null) message.timestamp = String(record.timestamp);
    return message;
  });
  await producer.send({ topic, compression, acks: -1, messages });
  produced.push({ topic, partition: 0, compression: codec, records });
}
await producer.disconnect();

const consumer = kafka.consumer({
  groupId: 'golden-group-kafkajs',
  heartbeatInterval: 100,
  sessionTimeout: 6000,
  maxWaitTimeInMs: 200,
});
await consumer.connect();
await consumer.subscribe({ topics: produced.map((p) => p.topic), fromBeginning: true });
const expected = produced.length * records.length;
let received = 0;
const done = new Promise<void>((resolve) => {
  void consumer.run({
    eachMessage: async () => {
      received += 1;
      if (received === expected) resolve();
    },
  });
});
const timeout = setTimeout(() => {
  console.error(`kafkajs consumer got ${received} of ${expected} records`);
  process.exit(1);
}, 30_000);
await done;
// Let the offsets be committed and a few heartbeats go out before leaving the group.
await new Promise((resolve) => setTimeout(resolve, 600));
await consumer.disconnect();
clearTimeout(timeout);

const sent: SentLog = {
  client: 'kafkajs',
  software: `kafkajs ${version}`,
  notes: [
    'kafkajs has only gzip built in; snappy, lz4 and zstd need codec packages registered through CompressionCodecs, so they were not captured.',
    'kafkajs has no consumer without a group: its consume flow is the group flow.',
  ],
  produced,
};
writeFileSync(values.sent, `${JSON.stringify(sent, null, 2)}\n`);
