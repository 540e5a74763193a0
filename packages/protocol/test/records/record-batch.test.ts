import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ProtocolDecodeError } from '../../src/errors/brook-error.ts';
import { Writer } from '../../src/primitives/writer.ts';
import { CompressionType } from '../../src/records/compression/codec.ts';
import {
  ControlRecordType,
  decodeControlRecordKey,
  decodeEndTransactionMarker,
  encodeControlRecordKey,
  encodeEndTransactionBatch,
  encodeEndTransactionMarker,
  readControlRecord,
} from '../../src/records/control-record.ts';
import { crc32c } from '../../src/records/crc32c.ts';
import {
  computeRecordBatchCrc,
  decodeRecordBatch,
  encodeRecordBatch,
  type KafkaRecord,
  type KafkaRecordInput,
  RECORD_BATCH_HEADER_BYTES,
  type RecordBatchInput,
  readRecordBatchHeader,
  setBatchBaseOffset,
  setBatchMaxTimestamp,
  setBatchPartitionLeaderEpoch,
  sizeOfVarint,
  sizeOfVarlongNumber,
  TimestampType,
  verifyRecordBatchCrc,
} from '../../src/records/record-batch.ts';
import {
  assignOffsets,
  decodeRecordBatches,
  iterateRecordsBlob,
  splitRecordsBlob,
} from '../../src/records/records-blob.ts';
import { kafkajsDecode, kafkajsEncode } from './kafkajs.ts';

const CODECS = [
  CompressionType.none,
  CompressionType.gzip,
  CompressionType.snappy,
  CompressionType.lz4,
  CompressionType.zstd,
] as const;

function isDecodeError(error: unknown): boolean {
  return error instanceof ProtocolDecodeError;
}

const bytesArb = fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes));
const nullableBytesArb = fc.option(bytesArb, { nil: null });
const recordArb: fc.Arbitrary<KafkaRecordInput> = fc.record({
  attributes: fc.integer({ min: -128, max: 127 }),
  timestampDelta: fc.oneof(fc.integer({ min: -1000, max: 100_000 }), fc.maxSafeInteger()),
  key: nullableBytesArb,
  value: nullableBytesArb,
  headers: fc.array(
    fc.record({ key: fc.string({ unit: 'grapheme', maxLength: 12 }), value: nullableBytesArb }),
    {
      maxLength: 3,
    },
  ),
});

/** What decoding `records` must give back. */
function expectedRecords(records: readonly KafkaRecordInput[]): KafkaRecord[] {
  return records.map((record, index) => ({
    attributes: record.attributes ?? 0,
    timestampDelta: record.timestampDelta ?? 0,
    offsetDelta: record.offsetDelta ?? index,
    key: record.key === null ? null : Buffer.from(record.key),
    value: record.value === null ? null : Buffer.from(record.value),
    headers: (record.headers ?? []).map((header) => ({
      key: header.key,
      value: header.value === null ? null : Buffer.from(header.value),
    })),
  }));
}

function plainRecords(count: number, valueBytes = 100): KafkaRecordInput[] {
  return Array.from({ length: count }, (_, index) => ({
    timestampDelta: index,
    key: Buffer.from(`key-${index}`),
    value: Buffer.alloc(valueBytes, index & 0xff),
  }));
}

describe('record batch encode and decode', () => {
  it('round-trips random records with every codec', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...CODECS),
        fc.array(recordArb, { maxLength: 20 }),
        fc.bigInt({ min: -(2n ** 40n), max: 2n ** 40n }),
        (compression, records, baseTimestamp) => {
          const encoded = encodeRecordBatch({ baseTimestamp, compression, records });
          const decoded = decodeRecordBatch(encoded);
          assert.deepEqual(decoded.records, expectedRecords(records));
          assert.equal(decoded.compression, compression);
          assert.equal(decoded.recordCount, records.length);
          assert.equal(decoded.batchLength, encoded.length - 12);
          const maxDelta = Math.max(0, ...records.map((record) => record.timestampDelta ?? 0));
          assert.equal(decoded.maxTimestamp, baseTimestamp + BigInt(maxDelta));
          assert.equal(decoded.lastOffsetDelta, Math.max(0, records.length - 1));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('round-trips every header field and attribute bit', () => {
    const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
    const int32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
    const int16 = fc.integer({ min: -(2 ** 15), max: 2 ** 15 - 1 });
    fc.assert(
      fc.property(
        fc.record({
          baseOffset: int64,
          partitionLeaderEpoch: int32,
          compression: fc.constantFrom(...CODECS),
          timestampType: fc.constantFrom(TimestampType.createTime, TimestampType.logAppendTime),
          isTransactional: fc.boolean(),
          isControlBatch: fc.boolean(),
          hasDeleteHorizon: fc.boolean(),
          lastOffsetDelta: int32,
          baseTimestamp: int64,
          maxTimestamp: int64,
          producerId: int64,
          producerEpoch: int16,
          baseSequence: int32,
        }),
        fc.array(recordArb, { maxLength: 3 }),
        (fields, records) => {
          const input: RecordBatchInput = { ...fields, records };
          const encoded = encodeRecordBatch(input);
          const decoded = decodeRecordBatch(encoded);
          const { records: decodedRecords, ...header } = decoded;
          assert.deepEqual(header, readRecordBatchHeader(encoded));
          for (const [name, value] of Object.entries(fields)) {
            assert.equal(decoded[name as keyof typeof fields], value, name);
          }
          assert.equal(decoded.magic, 2);
          assert.equal(decoded.crc, crc32c(encoded.subarray(21)));
          assert.equal(decodedRecords.length, records.length);
          // a decoded batch encodes back to the same bytes
          assert.deepEqual(encodeRecordBatch(decoded), encoded);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('writes the layout of the specification', () => {
    const encoded = encodeRecordBatch({
      baseOffset: 0x0102030405060708n,
      partitionLeaderEpoch: 7,
      baseTimestamp: 1000n,
      producerId: 42n,
      producerEpoch: 3,
      baseSequence: 9,
      isTransactional: true,
      records: [
        {
          timestampDelta: 5,
          key: null,
          value: Buffer.from('v'),
          headers: [{ key: 'h', value: null }],
        },
      ],
    });
    const record = Buffer.from([
      0x14, // length 10 (zigzag)
      0x00, // attributes
      0x0a, // timestampDelta 5
      0x00, // offsetDelta 0
      0x01, // key null
      0x02, // value length 1
      0x76, // 'v'
      0x02, // one header
      0x02, // key length 1
      0x68, // 'h'
      0x01, // value null
    ]);
    assert.equal(encoded.length, RECORD_BATCH_HEADER_BYTES + record.length);
    assert.deepEqual(encoded.subarray(RECORD_BATCH_HEADER_BYTES), record);
    assert.equal(encoded.readBigInt64BE(0), 0x0102030405060708n);
    assert.equal(encoded.readInt32BE(8), encoded.length - 12);
    assert.equal(encoded.readInt32BE(12), 7);
    assert.equal(encoded[16], 2);
    assert.equal(encoded.readUInt32BE(17), crc32c(encoded.subarray(21)));
    assert.equal(encoded.readInt16BE(21), 0x10);
    assert.equal(encoded.readInt32BE(23), 0);
    assert.equal(encoded.readBigInt64BE(27), 1000n);
    assert.equal(encoded.readBigInt64BE(35), 1005n);
    assert.equal(encoded.readBigInt64BE(43), 42n);
    assert.equal(encoded.readInt16BE(51), 3);
    assert.equal(encoded.readInt32BE(53), 9);
    assert.equal(encoded.readInt32BE(57), 1);
  });

  it('sizes varints exactly as the Writer writes them', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
        fc.maxSafeInteger(),
        (int, long) => {
          assert.equal(sizeOfVarint(int), new Writer().writeVarint(int).length);
          assert.equal(sizeOfVarlongNumber(long), new Writer().writeVarlongNumber(long).length);
        },
      ),
    );
  });

  it('handles empty batches, compressed or not, with no records section', () => {
    for (const compression of CODECS) {
      const encoded = encodeRecordBatch({ baseTimestamp: 5n, compression, records: [] });
      assert.equal(encoded.length, RECORD_BATCH_HEADER_BYTES);
      const decoded = decodeRecordBatch(encoded);
      assert.deepEqual(decoded.records, []);
      assert.equal(decoded.compression, compression);
    }
  });

  it('bounds decompression with maxUncompressedBytes', () => {
    const records = plainRecords(200, 1000);
    for (const compression of CODECS.slice(1)) {
      const encoded = encodeRecordBatch({ baseTimestamp: 0n, compression, records });
      assert.equal(decodeRecordBatch(encoded).records.length, 200);
      assert.throws(
        () => decodeRecordBatch(encoded, { maxUncompressedBytes: 10_000 }),
        isDecodeError,
        `codec ${compression}`,
      );
    }
  });

  it('decodes keys and values as views into the input (no copies)', () => {
    // A Produce-like 1 MiB records blob of several batches of 100-byte values.
    const batches: Buffer[] = [];
    let total = 0;
    while (total < 1024 * 1024) {
      const batch = encodeRecordBatch({ baseTimestamp: 0n, records: plainRecords(500) });
      batches.push(batch);
      total += batch.length;
    }
    const blob = Buffer.concat(batches);
    const { batches: decoded, truncatedBytes } = decodeRecordBatches(blob);
    assert.equal(truncatedBytes, 0);
    let values = 0;
    for (const batch of decoded) {
      for (const record of batch.records) {
        assert.equal(record.value!.buffer, blob.buffer);
        assert.equal(record.key!.buffer, blob.buffer);
        values++;
      }
    }
    assert.equal(values, batches.length * 500);
    // compressed: views into the one decompressed buffer of the batch
    const compressed = decodeRecordBatch(
      encodeRecordBatch({
        baseTimestamp: 0n,
        compression: CompressionType.lz4,
        records: plainRecords(50),
      }),
    );
    const shared = compressed.records[0]!.value!.buffer;
    for (const record of compressed.records) assert.equal(record.value!.buffer, shared);
  });
});

describe('record batch CRC and in-place patches', () => {
  const encoded = () =>
    encodeRecordBatch({
      baseTimestamp: 1_700_000_000_000n,
      compression: CompressionType.zstd,
      records: plainRecords(10),
    });

  it('rejects a CRC mismatch with ProtocolDecodeError, unless told not to check', () => {
    const batch = encoded();
    batch[batch.length - 1]! ^= 0xff;
    assert.throws(() => decodeRecordBatch(batch), isDecodeError);
    assert.throws(() => verifyRecordBatchCrc(batch), isDecodeError);
    const crcOnly = encoded();
    crcOnly.writeUInt32BE(crcOnly.readUInt32BE(17) ^ 1, 17);
    assert.throws(() => decodeRecordBatch(crcOnly), /CRC mismatch/);
    assert.equal(decodeRecordBatch(crcOnly, { verifyCrc: false }).records.length, 10);
  });

  it('patches baseOffset and partitionLeaderEpoch without invalidating the CRC', () => {
    const batch = encoded();
    const crc = batch.readUInt32BE(17);
    setBatchBaseOffset(batch, 123_456_789_012n);
    setBatchPartitionLeaderEpoch(batch, 17);
    verifyRecordBatchCrc(batch);
    assert.equal(computeRecordBatchCrc(batch), crc);
    const decoded = decodeRecordBatch(batch);
    assert.equal(decoded.baseOffset, 123_456_789_012n);
    assert.equal(decoded.partitionLeaderEpoch, 17);
  });

  it('sets log append time and recomputes the CRC', () => {
    const batch = encoded();
    setBatchMaxTimestamp(batch, { timestampType: TimestampType.logAppendTime, maxTimestamp: 99n });
    const decoded = decodeRecordBatch(batch);
    assert.equal(decoded.timestampType, TimestampType.logAppendTime);
    assert.equal(decoded.maxTimestamp, 99n);
    assert.equal(decoded.compression, CompressionType.zstd);
  });

  it('patches batches at a position inside a blob', () => {
    const first = encoded();
    const blob = Buffer.concat([first, encoded()]);
    setBatchBaseOffset(blob, 50n, first.length);
    assert.equal(readRecordBatchHeader(blob, first.length).baseOffset, 50n);
    assert.equal(readRecordBatchHeader(blob, 0).baseOffset, 0n);
    verifyRecordBatchCrc(blob, first.length);
    assert.throws(() => setBatchBaseOffset(blob, 1n, blob.length - 10), isDecodeError);
  });
});

describe('records blobs', () => {
  const batch = (count: number) =>
    encodeRecordBatch({ baseTimestamp: 0n, records: plainRecords(count, 10) });

  it('splits batches and reports a partial last batch instead of throwing', () => {
    const a = batch(3);
    const b = batch(5);
    const whole = Buffer.concat([a, b]);
    for (let cut = a.length; cut < whole.length; cut++) {
      const { entries, truncatedBytes } = splitRecordsBlob(whole.subarray(0, cut));
      assert.equal(entries.length, 1);
      assert.equal(truncatedBytes, cut - a.length);
      const decoded = decodeRecordBatches(whole.subarray(0, cut));
      assert.equal(decoded.batches.length, 1);
    }
    const { entries, truncatedBytes } = splitRecordsBlob(whole);
    assert.equal(truncatedBytes, 0);
    assert.deepEqual(
      entries.map((entry) => [entry.position, entry.magic, entry.bytes.length]),
      [
        [0, 2, a.length],
        [a.length, 2, b.length],
      ],
    );
    const iterator = iterateRecordsBlob(whole.subarray(0, whole.length - 1));
    assert.equal(iterator.next().done, false);
    assert.deepEqual(iterator.next(), { done: true, value: b.length - 1 });
    assert.deepEqual(splitRecordsBlob(Buffer.alloc(0)), { entries: [], truncatedBytes: 0 });
  });

  it('throws on a length that no batch can have', () => {
    const bad = batch(1);
    bad.writeInt32BE(3, 8);
    assert.throws(() => splitRecordsBlob(bad), isDecodeError);
  });

  it('assigns consecutive offsets to every batch in place', () => {
    const blob = Buffer.concat([batch(3), batch(1), batch(4)]);
    assert.equal(assignOffsets(blob, 100n), 108n);
    const { batches } = decodeRecordBatches(blob);
    assert.deepEqual(
      batches.map((decoded) => decoded.baseOffset),
      [100n, 103n, 104n],
    );
    assert.throws(() => assignOffsets(blob.subarray(0, blob.length - 1), 0n), isDecodeError);
  });
});

describe('control records', () => {
  it('encode and decode commit and abort markers', () => {
    const key = encodeControlRecordKey(ControlRecordType.commit);
    assert.deepEqual(key, Buffer.from([0, 0, 0, 1]));
    assert.deepEqual(decodeControlRecordKey(key), { version: 0, type: 1 });
    const value = encodeEndTransactionMarker({ coordinatorEpoch: 5 });
    assert.deepEqual(value, Buffer.from([0, 0, 0, 0, 0, 5]));
    assert.deepEqual(decodeEndTransactionMarker(value), { version: 0, coordinatorEpoch: 5 });
    assert.throws(() => decodeControlRecordKey(Buffer.from([0, 0, 1])), isDecodeError);
    assert.throws(() => decodeControlRecordKey(null), isDecodeError);
    assert.throws(() => decodeEndTransactionMarker(Buffer.from([0, 0])), isDecodeError);
  });

  it('build a control batch as the broker writes it', () => {
    const encoded = encodeEndTransactionBatch({
      type: ControlRecordType.abort,
      producerId: 77n,
      producerEpoch: 2,
      coordinatorEpoch: 9,
      timestamp: 1234n,
      baseOffset: 40n,
    });
    const batch = decodeRecordBatch(encoded);
    assert.equal(batch.isControlBatch, true);
    assert.equal(batch.isTransactional, true);
    assert.equal(batch.producerId, 77n);
    assert.equal(batch.baseOffset, 40n);
    assert.deepEqual(readControlRecord(batch), {
      key: { version: 0, type: ControlRecordType.abort },
      marker: { version: 0, coordinatorEpoch: 9 },
    });
    const plain = decodeRecordBatch(encodeRecordBatch({ baseTimestamp: 0n, records: [] }));
    assert.throws(() => readControlRecord(plain), isDecodeError);
  });
});

describe('hostile input', () => {
  it('gives only ProtocolDecodeError for truncated, mutated or random bytes', () => {
    let seed = 7;
    const random = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed;
    };
    const samples = CODECS.map((compression) =>
      encodeRecordBatch({
        baseTimestamp: 0n,
        compression,
        records: [
          ...plainRecords(4, 30),
          { key: null, value: null, headers: [{ key: 'hdr', value: Buffer.from('x') }] },
        ],
      }),
    );
    const attempt = (bytes: Buffer, verifyCrc: boolean) => {
      try {
        decodeRecordBatch(bytes, { verifyCrc, maxUncompressedBytes: 1 << 20 });
      } catch (error) {
        assert.ok(isDecodeError(error), `${String(error)}`);
      }
      try {
        splitRecordsBlob(bytes);
      } catch (error) {
        assert.ok(isDecodeError(error), `${String(error)}`);
      }
    };
    for (const sample of samples) {
      for (let cut = 0; cut < sample.length; cut++) {
        assert.throws(() => decodeRecordBatch(sample.subarray(0, cut)), isDecodeError);
      }
      for (let round = 0; round < 400; round++) {
        const mutated = Buffer.from(sample);
        const flips = 1 + (random() % 3);
        for (let flip = 0; flip < flips; flip++) {
          // mostly in the records section, where the parser works hardest
          const at = round % 4 === 0 ? random() % 61 : 61 + (random() % (mutated.length - 61));
          mutated[at] = random() & 0xff;
        }
        attempt(mutated, false);
        attempt(mutated, true);
      }
    }
    for (let round = 0; round < 300; round++) {
      const junk = Buffer.from(Array.from({ length: random() % 200 }, random));
      if (junk.length > 17) junk[16] = 2;
      attempt(junk, false);
    }
  });

  it('rejects records whose lengths disagree with their fields', () => {
    const encoded = encodeRecordBatch({ baseTimestamp: 0n, records: plainRecords(2, 5) });
    const longer = Buffer.from(encoded);
    longer[61] = longer[61]! + 2; // first record claims 1 more byte
    assert.throws(() => decodeRecordBatch(longer, { verifyCrc: false }), isDecodeError);
    const moreRecords = Buffer.from(encoded);
    moreRecords.writeInt32BE(3, 57);
    assert.throws(() => decodeRecordBatch(moreRecords, { verifyCrc: false }), isDecodeError);
    const fewerRecords = Buffer.from(encoded);
    fewerRecords.writeInt32BE(1, 57);
    assert.throws(() => decodeRecordBatch(fewerRecords, { verifyCrc: false }), /remain/);
    const hugeCount = Buffer.from(encoded);
    hugeCount.writeInt32BE(0x7fffffff, 57);
    assert.throws(() => decodeRecordBatch(hugeCount, { verifyCrc: false }), isDecodeError);
    const badMagic = Buffer.from(encoded);
    badMagic[16] = 3;
    assert.throws(() => decodeRecordBatch(badMagic), isDecodeError);
    const badCodec = Buffer.from(encoded);
    badCodec.writeInt16BE(5, 21);
    assert.throws(() => decodeRecordBatch(badCodec, { verifyCrc: false }), isDecodeError);
  });
});

describe('interoperability with kafkajs', () => {
  const records = [
    {
      offsetDelta: 0,
      timestampDelta: 0,
      key: Buffer.from('k0'),
      value: Buffer.from('v0'),
      headers: { a: Buffer.from('1') },
    },
    { offsetDelta: 1, timestampDelta: 7, key: null, value: Buffer.from('v1') },
    { offsetDelta: 2, timestampDelta: 3, key: Buffer.from('k2'), value: null },
  ];

  it('decodes what kafkajs encodes (none and gzip, the codecs kafkajs has built in)', async () => {
    for (const compression of [CompressionType.none, CompressionType.gzip]) {
      const encoded = await kafkajsEncode(
        {
          compression,
          firstTimestamp: 5000,
          maxTimestamp: 5007,
          lastOffsetDelta: 2,
          partitionLeaderEpoch: 4,
        },
        records,
      );
      const batch = decodeRecordBatch(encoded);
      assert.equal(batch.compression, compression);
      assert.equal(batch.baseTimestamp, 5000n);
      assert.equal(batch.maxTimestamp, 5007n);
      assert.equal(batch.partitionLeaderEpoch, 4);
      assert.deepEqual(
        batch.records.map((record) => [
          record.offsetDelta,
          record.timestampDelta,
          record.key,
          record.value,
        ]),
        records.map((record) => [
          record.offsetDelta,
          record.timestampDelta,
          record.key,
          record.value,
        ]),
      );
      assert.deepEqual(batch.records[0]!.headers, [{ key: 'a', value: Buffer.from('1') }]);
    }
  });

  it('encodes what kafkajs decodes', async () => {
    for (const compression of [CompressionType.none, CompressionType.gzip]) {
      const encoded = encodeRecordBatch({
        baseOffset: 10n,
        baseTimestamp: 5000n,
        compression,
        producerId: 3n,
        producerEpoch: 1,
        baseSequence: 0,
        records: records.map((record) => ({
          ...record,
          headers: Object.entries(record.headers ?? {}).map(([key, value]) => ({ key, value })),
        })),
      });
      const batch = await kafkajsDecode(encoded);
      assert.equal(batch.firstOffset, '10');
      assert.equal(batch.maxTimestamp, '5007');
      assert.equal(batch.producerId, '3');
      assert.deepEqual(
        batch.records.map((record) => [record.offset, record.timestamp, record.key, record.value]),
        [
          ['10', '5000', Buffer.from('k0'), Buffer.from('v0')],
          ['11', '5007', null, Buffer.from('v1')],
          ['12', '5003', Buffer.from('k2'), null],
        ],
      );
      assert.deepEqual(batch.records[0]!.headers, { a: Buffer.from('1') });
    }
  });
});
