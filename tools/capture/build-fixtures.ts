/**
 * Turns one client's raw capture (every request frame the fake broker saw, plus the driver's
 * sent.json) into golden fixtures: a selection of the frames and a manifest.json that lists
 * each file's api key and version and, for Produce, the records that were sent and their codec.
 *
 * Selection: frames that differ only in their correlation id are kept once, and at most
 * MAX_PER_VERSION frames of each api key and version are kept, except Produce (all kept: each
 * carries records the manifest describes).
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiKey, ProduceRequest, readRequestFrame } from '../../packages/protocol/src/index.ts';
import {
  readRecordBatchHeader,
  splitRecordsBlob,
} from '../../packages/protocol/src/records/index.ts';
import type { Codec, JsonRecord, SentLog } from './records.ts';

export const MAX_PER_VERSION = 3;

/** What a manifest says of one Produce partition: the records sent and their codec. */
export interface ManifestProduce {
  topic: string;
  partition: number;
  compression: Codec;
  records: JsonRecord[];
}

export interface ManifestFile {
  file: string;
  apiKey: number;
  api: string;
  version: number;
  headerVersion: number;
  clientId: string | null;
  produce?: ManifestProduce[];
}

export interface Manifest {
  client: string;
  software: string;
  generatedBy: string;
  notes: string[];
  files: ManifestFile[];
}

const FILE_PATTERN = /^(\d{2})-[a-z0-9-]+-v(\d+)-(\d+)\.bin$/;

export function buildFixtures(options: {
  client: string;
  rawDir: string;
  sentFile: string;
  fixturesDir: string;
}): Manifest {
  const sent = JSON.parse(readFileSync(options.sentFile, 'utf8')) as SentLog;
  const raw = readdirSync(options.rawDir)
    .map((name) => ({ name, match: FILE_PATTERN.exec(name) }))
    .filter((entry): entry is { name: string; match: RegExpExecArray } => entry.match !== null)
    .map(({ name, match }) => ({
      name,
      apiKey: Number(match[1]),
      version: Number(match[2]),
      seq: Number(match[3]),
    }))
    .sort((a, b) => a.seq - b.seq);

  // Records sent to each partition, in order, each with the codec it was sent with.
  const pending = new Map<string, { record: JsonRecord; compression: Codec }[]>();
  for (const batch of sent.produced) {
    const key = `${batch.topic}/${batch.partition}`;
    const queue = pending.get(key) ?? [];
    for (const record of batch.records) queue.push({ record, compression: batch.compression });
    pending.set(key, queue);
  }

  const seen = new Set<string>();
  const perVersion = new Map<string, number>();
  const files: ManifestFile[] = [];
  const chosen: { name: string; bytes: Buffer }[] = [];
  for (const entry of raw) {
    const bytes = readFileSync(join(options.rawDir, entry.name));
    const masked = Buffer.from(bytes);
    masked.writeInt32BE(0, 4); // the correlation id
    const identity = masked.toString('base64');
    if (seen.has(identity)) continue;
    seen.add(identity);
    const versionKey = `${entry.apiKey}/${entry.version}`;
    const count = perVersion.get(versionKey) ?? 0;
    if (entry.apiKey !== ApiKey.Produce && count >= MAX_PER_VERSION) continue;
    perVersion.set(versionKey, count + 1);

    const frame = readRequestFrame(bytes);
    const file: ManifestFile = {
      file: entry.name,
      apiKey: entry.apiKey,
      api: frame.api?.name ?? 'unknown',
      version: entry.version,
      headerVersion: frame.headerVersion,
      clientId: frame.header.clientId,
    };
    if (entry.apiKey === ApiKey.Produce) {
      const request = ProduceRequest.decode(frame.body, entry.version);
      file.produce = [];
      for (const topic of request.topicData) {
        for (const partition of topic.partitionData) {
          // Only the batch headers are read here, for the record counts; the golden test
          // decodes the records themselves and compares them with the manifest.
          let count = 0;
          for (const batch of splitRecordsBlob(partition.records ?? Buffer.alloc(0)).entries) {
            count += readRecordBatchHeader(batch.bytes).recordCount;
          }
          const key = `${topic.name}/${partition.index}`;
          const queue = pending.get(key) ?? [];
          if (queue.length < count) {
            throw new Error(
              `${entry.name}: ${count} records for ${key}, only ${queue.length} sent`,
            );
          }
          const taken = queue.splice(0, count);
          const codecs = new Set(taken.map((t) => t.compression));
          if (codecs.size !== 1) {
            throw new Error(`${entry.name}: records of ${key} were sent with ${[...codecs]}`);
          }
          file.produce.push({
            topic: topic.name,
            partition: partition.index,
            compression: taken[0]!.compression,
            records: taken.map((t) => t.record),
          });
        }
      }
    }
    files.push(file);
    chosen.push({ name: entry.name, bytes });
  }
  for (const [key, queue] of pending) {
    if (queue.length > 0)
      throw new Error(`${queue.length} records sent to ${key} were not captured`);
  }

  const manifest: Manifest = {
    client: options.client,
    software: sent.software,
    generatedBy: 'tools/capture/capture-all.ts',
    notes: sent.notes,
    files,
  };
  rmSync(options.fixturesDir, { recursive: true, force: true });
  mkdirSync(options.fixturesDir, { recursive: true });
  for (const { name, bytes } of chosen) writeFileSync(join(options.fixturesDir, name), bytes);
  writeFileSync(
    join(options.fixturesDir, 'manifest.json'),
    `${JSON.stringify(manifest, null, 2)}\n`,
  );
  return manifest;
}
