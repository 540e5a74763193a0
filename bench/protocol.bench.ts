/**
 * Message codec speed, printed side by side with a reference on the same input:
 * - decoding a Produce request that carries 1 MiB of records, next to the same decode followed
 *   by a copy of the records (what a codec that copies would pay);
 * - encoding and decoding a Metadata response (100 topics x 6 partitions), next to kafkajs's
 *   own Metadata v6 response decoder on the same bytes.
 *
 * Run: npm run bench -- protocol   (or: npx node bench/protocol.bench.ts)
 */
import { createRequire } from 'node:module';
import {
  ApiKey,
  MetadataResponse,
  type MetadataResponseInput,
  ProduceRequest,
  Reader,
  readRequestFrame,
  Writer,
  writeRequestFrame,
} from '../packages/protocol/src/index.ts';
import { measure, printTable } from './harness.ts';

const require = createRequire(import.meta.url);

function produceFrame(recordsBytes: number): Buffer {
  const records = Buffer.alloc(recordsBytes, 0x61);
  const writer = new Writer();
  writeRequestFrame(
    writer,
    { apiKey: ApiKey.Produce, apiVersion: 9, correlationId: 1, clientId: 'bench' },
    (w) =>
      ProduceRequest.write(
        w,
        {
          transactionalId: null,
          acks: -1,
          timeoutMs: 30_000,
          topicData: [{ name: 'bench', partitionData: [{ index: 0, records }] }],
        },
        9,
      ),
  );
  return Buffer.from(writer.toBuffer().subarray(4));
}

function metadataResponse(): MetadataResponseInput {
  return {
    throttleTimeMs: 0,
    brokers: [{ nodeId: 1, host: 'localhost', port: 9092, rack: null }],
    clusterId: 'brook-cluster',
    controllerId: 1,
    topics: Array.from({ length: 100 }, (_, t) => ({
      errorCode: 0,
      name: `topic-${t}`,
      topicId: '00000000-0000-0000-0000-000000000000',
      isInternal: false,
      partitions: Array.from({ length: 6 }, (_, p) => ({
        errorCode: 0,
        partitionIndex: p,
        leaderId: 1,
        leaderEpoch: 0,
        replicaNodes: [1],
        isrNodes: [1],
        offlineReplicas: [],
      })),
    })),
  };
}

export async function run(): Promise<void> {
  const frame = produceFrame(1 << 20);
  let sink = 0;
  const rows = [
    measure('Produce v9 decode, 1 MiB records (Brook, zero-copy)', () => {
      const request = readRequestFrame(frame);
      const decoded = ProduceRequest.decode(request.body, 9);
      sink += decoded.topicData[0]?.partitionData[0]?.records?.length ?? 0;
    }),
    measure('Produce v9 decode + copy of the records (reference)', () => {
      const request = readRequestFrame(frame);
      const decoded = ProduceRequest.decode(request.body, 9);
      sink += Buffer.from(decoded.topicData[0]?.partitionData[0]?.records ?? []).length;
    }),
  ];

  const metadata = metadataResponse();
  const v6 = MetadataResponse.encode(metadata, 6);
  rows.push(
    measure('Metadata v12 response encode, 100x6 (Brook)', () => {
      sink += MetadataResponse.encode(metadata, 12).length;
    }),
    measure('Metadata v6 response decode, 100x6 (Brook)', () => {
      sink += MetadataResponse.decode(new Reader(v6), 6).topics.length;
    }),
  );
  const kafkajsMetadata = require('kafkajs/src/protocol/requests/metadata/v6/response.js') as {
    decode(data: Buffer): Promise<{ topicMetadata: unknown[] }>;
  };
  const decodedByKafkajs = await kafkajsMetadata.decode(v6);
  if (decodedByKafkajs.topicMetadata.length !== 100) throw new Error('kafkajs decoded wrongly');
  rows.push(
    await measureAsync('Metadata v6 response decode, 100x6 (kafkajs)', async () => {
      sink += (await kafkajsMetadata.decode(v6)).topicMetadata.length;
    }),
  );
  printTable('Message codecs', rows);
  if (sink === 0) console.log('');
}

async function measureAsync(name: string, fn: () => Promise<void>) {
  // kafkajs decoders are async; run them in batches so the loop overhead stays small.
  const samples: number[] = [];
  const started = performance.now();
  let operations = 0;
  while (performance.now() - started < 1000) {
    const t0 = performance.now();
    for (let i = 0; i < 50; i++) await fn();
    samples.push((performance.now() - t0) / 50);
    operations += 50;
  }
  const elapsed = performance.now() - started;
  return { name, opsPerSecond: (operations / elapsed) * 1000, meanMs: elapsed / operations };
}

if (import.meta.main) await run();
