/**
 * Golden bytes from real clients (kcat, kafka-python, confluent-kafka, kafkajs and
 * @platformatic/kafka, the one that sends recent flexible versions), recorded by
 * tools/capture (see its README). For every captured request frame: the header and body decode
 * with the generated codecs at the captured version, consuming exactly the frame, and encoding
 * what was decoded gives back the same bytes. For Produce: the record batches decode to the
 * records the client was asked to send, with the codec it was asked to use.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  ApiKey,
  apiDescriptor,
  ProduceRequest,
  RequestHeader,
  readRequestFrame,
  Writer,
} from '../../src/index.ts';
import {
  CompressionType,
  compressionName,
  decodeRecordBatches,
  encodeRecordBatch,
} from '../../src/records/index.ts';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');

type JsonBytes = null | { text: string } | { hex: string };

interface ManifestRecord {
  key: JsonBytes;
  value: JsonBytes;
  headers: { key: string; value: JsonBytes }[];
  timestamp: number | null;
}

interface ManifestFile {
  file: string;
  apiKey: number;
  api: string;
  version: number;
  headerVersion: number;
  clientId: string | null;
  produce?: {
    topic: string;
    partition: number;
    compression: keyof typeof CompressionType;
    records: ManifestRecord[];
  }[];
}

interface Manifest {
  client: string;
  software: string;
  files: ManifestFile[];
}

function bytesOf(value: JsonBytes): Buffer | null {
  if (value === null) return null;
  return 'text' in value ? Buffer.from(value.text, 'utf8') : Buffer.from(value.hex, 'hex');
}

/** Equal buffers, or a failure that says where they first differ. */
function assertSameBytes(actual: Buffer, expected: Buffer, what: string): void {
  if (actual.equals(expected)) return;
  let at = 0;
  while (at < actual.length && at < expected.length && actual[at] === expected[at]) at++;
  const around = (b: Buffer) => b.subarray(Math.max(0, at - 8), at + 8).toString('hex');
  assert.fail(
    `${what}: ${actual.length} bytes instead of ${expected.length}, first difference at byte ${at}` +
      ` (got …${around(actual)}…, captured …${around(expected)}…)`,
  );
}

const clients = readdirSync(FIXTURES, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();

describe('golden request frames from real clients', () => {
  it('has fixtures of the five clients', () => {
    assert.deepEqual(clients, [
      'confluent-kafka',
      'kafka-python',
      'kafkajs',
      'kcat',
      'platformatic',
    ]);
  });

  for (const client of clients) {
    const directory = join(FIXTURES, client);
    const manifest = JSON.parse(readFileSync(join(directory, 'manifest.json'), 'utf8')) as Manifest;

    describe(`${client} (${manifest.software})`, () => {
      it('lists every fixture file in its manifest', () => {
        const files = readdirSync(directory).filter((name) => name.endsWith('.bin'));
        assert.deepEqual(manifest.files.map((f) => f.file).sort(), files.sort());
        assert.ok(manifest.files.some((f) => f.apiKey === ApiKey.Produce));
      });

      for (const entry of manifest.files) {
        const bytes = readFileSync(join(directory, entry.file));

        it(`${entry.file}: decodes and encodes back byte for byte`, () => {
          const frame = readRequestFrame(bytes);
          assert.equal(frame.header.requestApiKey, entry.apiKey);
          assert.equal(frame.header.requestApiVersion, entry.version);
          assert.equal(frame.headerVersion, entry.headerVersion);
          assert.equal(frame.header.clientId, entry.clientId);
          const api = apiDescriptor(entry.apiKey);
          assert.ok(api !== undefined, `api key ${entry.apiKey}`);
          assert.equal(api.name, entry.api);

          const body = api.request.decode(frame.body, entry.version);
          assert.equal(frame.body.offset, bytes.length, 'the body decoder stops at the frame end');

          const writer = new Writer();
          RequestHeader.write(writer, frame.header, frame.headerVersion);
          const headerBytes = writer.length;
          api.request.write(writer, body, entry.version);
          const encoded = writer.toBuffer();
          assertSameBytes(
            encoded.subarray(0, headerBytes),
            bytes.subarray(0, headerBytes),
            'header',
          );
          assertSameBytes(encoded, bytes, `${entry.api} v${entry.version}`);
        });

        const produce = entry.produce;
        if (produce === undefined) continue;

        it(`${entry.file}: its batches hold the records sent, with the codec asked for`, () => {
          const frame = readRequestFrame(bytes);
          const request = ProduceRequest.decode(frame.body, entry.version);
          const partitions = request.topicData.flatMap((t) =>
            t.partitionData.map((p) => ({ topic: t.name, partition: p.index, records: p.records })),
          );
          assert.deepEqual(
            partitions.map((p) => `${p.topic}/${p.partition}`),
            produce.map((p) => `${p.topic}/${p.partition}`),
          );
          for (const [index, expected] of produce.entries()) {
            const blob = partitions[index]!.records;
            assert.ok(blob !== null, 'records are present');
            const { batches, truncatedBytes } = decodeRecordBatches(blob);
            assert.equal(truncatedBytes, 0);
            assert.ok(batches.length > 0);
            for (const batch of batches) {
              assert.equal(compressionName(batch.compression), expected.compression);
            }
            const records = batches.flatMap((batch) =>
              batch.records.map((record) => ({ batch, record })),
            );
            assert.equal(records.length, expected.records.length);
            for (const [at, { batch, record }] of records.entries()) {
              const sent = expected.records[at]!;
              const where = `${expected.topic} record ${at}`;
              assert.deepEqual(record.key, bytesOf(sent.key), `${where} key`);
              assert.deepEqual(record.value, bytesOf(sent.value), `${where} value`);
              assert.deepEqual(
                record.headers.map((h) => ({ key: h.key, value: h.value })),
                sent.headers.map((h) => ({ key: h.key, value: bytesOf(h.value) })),
                `${where} headers`,
              );
              if (sent.timestamp !== null) {
                assert.equal(
                  batch.baseTimestamp + BigInt(record.timestampDelta),
                  BigInt(sent.timestamp),
                  `${where} timestamp`,
                );
              }
            }
            // An uncompressed batch has one encoding: encoding the decoded batch gives it back.
            let position = 0;
            for (const batch of batches) {
              const size = 12 + batch.batchLength;
              const captured = blob.subarray(position, position + size);
              position += size;
              if (batch.compression !== CompressionType.none) continue;
              assertSameBytes(
                encodeRecordBatch(batch),
                captured,
                `${expected.topic} batch re-encoded`,
              );
            }
          }
        });
      }
    });
  }
});
