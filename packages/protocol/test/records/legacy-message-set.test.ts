import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crc32, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { ProtocolDecodeError } from '../../src/errors/brook-error.ts';
import { CompressionType } from '../../src/records/compression/codec.ts';
import {
  decodeLegacyMessage,
  decodeLegacyMessageSet,
  encodeLegacyMessageSet,
  LegacyMagic,
} from '../../src/records/legacy-message-set.ts';
import { TimestampType } from '../../src/records/record-batch.ts';
import { splitRecordsBlob } from '../../src/records/records-blob.ts';

function isDecodeError(error: unknown): boolean {
  return error instanceof ProtocolDecodeError;
}

function int64(value: bigint): Buffer {
  const bytes = Buffer.alloc(8);
  bytes.writeBigInt64BE(value);
  return bytes;
}

function int32(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeInt32BE(value);
  return bytes;
}

function bytesField(value: string | Buffer | null): Buffer {
  if (value === null) return int32(-1);
  const bytes = Buffer.from(value);
  return Buffer.concat([int32(bytes.length), bytes]);
}

/** One legacy message, field by field as the protocol guide lays it out. */
function message(fields: {
  offset: bigint;
  magic: 0 | 1;
  attributes?: number;
  timestamp?: bigint;
  key: string | Buffer | null;
  value: string | Buffer | null;
}): Buffer {
  const body = Buffer.concat([
    Buffer.from([fields.magic, fields.attributes ?? 0]),
    fields.magic === 1 ? int64(fields.timestamp ?? -1n) : Buffer.alloc(0),
    bytesField(fields.key),
    bytesField(fields.value),
  ]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([int64(fields.offset), int32(4 + body.length), crc, body]);
}

describe('legacy message sets: decode', () => {
  it('reads magic 0 messages', () => {
    const set = Buffer.concat([
      message({ offset: 5n, magic: 0, key: 'k', value: 'hello' }),
      message({ offset: 6n, magic: 0, key: null, value: null }),
    ]);
    const { messages, truncatedBytes } = decodeLegacyMessageSet(set);
    assert.equal(truncatedBytes, 0);
    assert.deepEqual(messages, [
      {
        offset: 5n,
        magic: 0,
        attributes: 0,
        compression: CompressionType.none,
        timestampType: TimestampType.noTimestamp,
        timestamp: -1n,
        key: Buffer.from('k'),
        value: Buffer.from('hello'),
      },
      {
        offset: 6n,
        magic: 0,
        attributes: 0,
        compression: CompressionType.none,
        timestampType: TimestampType.noTimestamp,
        timestamp: -1n,
        key: null,
        value: null,
      },
    ]);
    assert.equal(messages[0]!.value!.buffer, set.buffer, 'values are views');
  });

  it('reads magic 1 messages with their timestamps', () => {
    const set = Buffer.concat([
      message({ offset: 0n, magic: 1, timestamp: 1_600_000_000_000n, key: null, value: 'a' }),
      message({ offset: 1n, magic: 1, attributes: 0x08, timestamp: 7n, key: 'b', value: 'c' }),
    ]);
    const { messages } = decodeLegacyMessageSet(set);
    assert.deepEqual(
      messages.map((m) => [m.offset, m.timestampType, m.timestamp, m.value?.toString()]),
      [
        [0n, TimestampType.createTime, 1_600_000_000_000n, 'a'],
        [1n, TimestampType.logAppendTime, 7n, 'c'],
      ],
    );
  });

  it('unwraps a gzip-compressed magic 1 wrapper, resolving relative inner offsets', () => {
    const inner = Buffer.concat([
      message({ offset: 0n, magic: 1, timestamp: 10n, key: null, value: 'first' }),
      message({ offset: 1n, magic: 1, timestamp: 11n, key: 'k', value: 'second' }),
      message({ offset: 2n, magic: 1, timestamp: 12n, key: null, value: 'third' }),
    ]);
    const wrapper = message({
      offset: 102n, // the last inner message's absolute offset
      magic: 1,
      attributes: CompressionType.gzip,
      timestamp: 12n,
      key: null,
      value: gzipSync(inner),
    });
    const { messages } = decodeLegacyMessageSet(wrapper);
    assert.deepEqual(
      messages.map((m) => [
        m.offset,
        m.timestamp,
        m.compression,
        m.key?.toString() ?? null,
        m.value?.toString(),
      ]),
      [
        [100n, 10n, CompressionType.none, null, 'first'],
        [101n, 11n, CompressionType.none, 'k', 'second'],
        [102n, 12n, CompressionType.none, null, 'third'],
      ],
    );
    const shallow = decodeLegacyMessage(wrapper);
    assert.equal(shallow.compression, CompressionType.gzip);
    assert.equal(shallow.offset, 102n);
  });

  it('gives inner messages the wrapper timestamp under log append time', () => {
    const inner = Buffer.concat([
      message({ offset: 0n, magic: 1, timestamp: 10n, key: null, value: 'a' }),
      message({ offset: 1n, magic: 1, timestamp: 11n, key: null, value: 'b' }),
    ]);
    const wrapper = message({
      offset: 41n,
      magic: 1,
      attributes: CompressionType.gzip | 0x08,
      timestamp: 999n,
      key: null,
      value: gzipSync(inner),
    });
    const { messages } = decodeLegacyMessageSet(wrapper);
    assert.deepEqual(
      messages.map((m) => [m.offset, m.timestampType, m.timestamp]),
      [
        [40n, TimestampType.logAppendTime, 999n],
        [41n, TimestampType.logAppendTime, 999n],
      ],
    );
  });

  it('keeps the absolute inner offsets of a magic 0 wrapper', () => {
    const inner = Buffer.concat([
      message({ offset: 7n, magic: 0, key: null, value: 'a' }),
      message({ offset: 8n, magic: 0, key: null, value: 'b' }),
    ]);
    const wrapper = message({
      offset: 8n,
      magic: 0,
      attributes: CompressionType.gzip,
      key: null,
      value: gzipSync(inner),
    });
    const { messages } = decodeLegacyMessageSet(
      Buffer.concat([message({ offset: 6n, magic: 0, key: null, value: 'z' }), wrapper]),
    );
    assert.deepEqual(
      messages.map((m) => [m.offset, m.value?.toString()]),
      [
        [6n, 'z'],
        [7n, 'a'],
        [8n, 'b'],
      ],
    );
  });

  it('unwraps snappy (xerial) and lz4 wrappers, lz4 with the broken magic 0 checksum', () => {
    const inner = message({ offset: 0n, magic: 0, key: null, value: 'snappy!' });
    // xerial framing around one raw snappy literal block
    const raw = Buffer.concat([Buffer.from([inner.length, (inner.length - 1) << 2]), inner]);
    const xerial = Buffer.concat([
      Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0, 0, 0, 0, 1, 0, 0, 0, 1]),
      int32(raw.length),
      raw,
    ]);
    const snappyWrapper = message({
      offset: 0n,
      magic: 0,
      attributes: CompressionType.snappy,
      key: null,
      value: xerial,
    });
    assert.equal(decodeLegacyMessageSet(snappyWrapper).messages[0]!.value!.toString(), 'snappy!');
    // an LZ4 frame with one stored block and Kafka 0.8's header checksum (0x1A for FLG 0x60 BD 0x40)
    const block = Buffer.alloc(4);
    block.writeUInt32LE((0x80000000 | inner.length) >>> 0);
    const frame = Buffer.concat([
      Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x1a]),
      block,
      inner,
      Buffer.alloc(4),
    ]);
    const lz4Wrapper = message({
      offset: 0n,
      magic: 0,
      attributes: CompressionType.lz4,
      key: null,
      value: frame,
    });
    assert.equal(decodeLegacyMessageSet(lz4Wrapper).messages[0]!.value!.toString(), 'snappy!');
  });

  it('skips a partial last message and reports it', () => {
    const whole = Buffer.concat([
      message({ offset: 0n, magic: 1, key: null, value: 'a' }),
      message({ offset: 1n, magic: 1, key: null, value: 'b' }),
    ]);
    for (let cut = whole.length / 2; cut < whole.length; cut++) {
      const { messages, truncatedBytes } = decodeLegacyMessageSet(whole.subarray(0, cut));
      assert.equal(messages.length, 1);
      assert.equal(truncatedBytes, cut - whole.length / 2);
    }
  });

  it('refuses bad CRCs, nesting, mixed magics and zstd with ProtocolDecodeError', () => {
    const good = message({ offset: 0n, magic: 1, key: null, value: 'abc' });
    const bad = Buffer.from(good);
    bad[bad.length - 1] = bad[bad.length - 1]! ^ 1;
    assert.throws(() => decodeLegacyMessageSet(bad), /CRC mismatch/);
    assert.equal(
      decodeLegacyMessageSet(bad, { verifyCrc: false }).messages[0]!.value!.toString(),
      'abb',
    );

    const wrap = (magic: 0 | 1, attributes: number, inner: Buffer) =>
      message({ offset: 0n, magic, attributes, key: null, value: inner });
    const nested = wrap(
      1,
      CompressionType.gzip,
      gzipSync(wrap(1, CompressionType.gzip, gzipSync(good))),
    );
    assert.throws(() => decodeLegacyMessageSet(nested), isDecodeError);
    const mixed = wrap(0, CompressionType.gzip, gzipSync(good));
    assert.throws(() => decodeLegacyMessageSet(mixed), isDecodeError);
    assert.throws(() => decodeLegacyMessageSet(wrap(1, CompressionType.zstd, good)), isDecodeError);
    const cutInner = wrap(1, CompressionType.gzip, gzipSync(good.subarray(0, good.length - 1)));
    assert.throws(() => decodeLegacyMessageSet(cutInner), isDecodeError);
    const noValue = message({
      offset: 0n,
      magic: 1,
      attributes: CompressionType.gzip,
      key: null,
      value: null,
    });
    assert.throws(() => decodeLegacyMessageSet(noValue), isDecodeError);
    const bomb = wrap(1, CompressionType.gzip, gzipSync(Buffer.alloc(4 << 20)));
    assert.throws(
      () => decodeLegacyMessageSet(bomb, { maxUncompressedBytes: 1 << 20 }),
      /more than/,
    );
  });

  it('gives only ProtocolDecodeError for mutated and truncated sets', () => {
    const inner = Buffer.concat([
      message({ offset: 0n, magic: 1, timestamp: 1n, key: 'a', value: 'first value' }),
      message({ offset: 1n, magic: 1, timestamp: 2n, key: null, value: 'second value' }),
    ]);
    const samples = [
      inner,
      message({
        offset: 1n,
        magic: 1,
        attributes: CompressionType.gzip,
        timestamp: 2n,
        key: null,
        value: gzipSync(inner),
      }),
      encodeLegacyMessageSet([{ key: null, value: inner }], {
        magic: 0,
        compression: CompressionType.lz4,
      }),
      encodeLegacyMessageSet([{ key: null, value: inner }], {
        magic: 1,
        compression: CompressionType.snappy,
      }),
    ];
    let seed = 99;
    const random = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed;
    };
    for (const sample of samples) {
      for (let round = 0; round < 300; round++) {
        const mutated = Buffer.from(sample);
        mutated[random() % mutated.length] = random() & 0xff;
        const cut = round % 2 === 0 ? mutated : mutated.subarray(0, random() % mutated.length);
        for (const verifyCrc of [true, false]) {
          try {
            decodeLegacyMessageSet(cut, { verifyCrc, maxUncompressedBytes: 1 << 20 });
          } catch (error) {
            assert.ok(isDecodeError(error), String(error));
          }
        }
      }
    }
  });
});

describe('legacy message sets: encode', () => {
  it('writes the bytes the protocol guide describes', () => {
    const encoded = encodeLegacyMessageSet(
      [
        { key: Buffer.from('k'), value: Buffer.from('v'), timestamp: 3n },
        { key: null, value: null, timestamp: 4n },
      ],
      { magic: LegacyMagic.v1, baseOffset: 20n },
    );
    assert.deepEqual(
      encoded,
      Buffer.concat([
        message({ offset: 20n, magic: 1, timestamp: 3n, key: 'k', value: 'v' }),
        message({ offset: 21n, magic: 1, timestamp: 4n, key: null, value: null }),
      ]),
    );
    const v0 = encodeLegacyMessageSet([{ key: null, value: Buffer.from('x') }], {
      magic: LegacyMagic.v0,
    });
    assert.deepEqual(v0, message({ offset: 0n, magic: 0, key: null, value: 'x' }));
  });

  it('round-trips through decode with every legacy codec', () => {
    const messageArb = fc.record({
      key: fc.option(
        fc.uint8Array({ maxLength: 20 }).map((bytes) => Buffer.from(bytes)),
        { nil: null },
      ),
      value: fc.option(
        fc.uint8Array({ maxLength: 50 }).map((bytes) => Buffer.from(bytes)),
        { nil: null },
      ),
      timestamp: fc.bigInt({ min: 0n, max: 2n ** 50n }),
    });
    fc.assert(
      fc.property(
        fc.constantFrom(LegacyMagic.v0, LegacyMagic.v1),
        fc.constantFrom(
          CompressionType.none,
          CompressionType.gzip,
          CompressionType.snappy,
          CompressionType.lz4,
        ),
        fc.array(messageArb, { minLength: 1, maxLength: 8 }),
        fc.bigInt({ min: 0n, max: 2n ** 40n }),
        (magic, compression, messages, baseOffset) => {
          const encoded = encodeLegacyMessageSet(messages, { magic, compression, baseOffset });
          const entries = splitRecordsBlob(encoded).entries;
          assert.equal(entries.length, compression === CompressionType.none ? messages.length : 1);
          assert.ok(entries.every((entry) => entry.magic === magic));
          const decoded = decodeLegacyMessageSet(encoded).messages;
          assert.deepEqual(
            decoded.map((m) => [m.offset, m.magic, m.key, m.value, m.timestamp]),
            messages.map((m, index) => [
              baseOffset + BigInt(index),
              magic,
              m.key,
              m.value,
              magic === LegacyMagic.v1 ? m.timestamp : -1n,
            ]),
          );
        },
      ),
      { numRuns: 150 },
    );
  });

  it('marks a magic 1 wrapper with log append time', () => {
    const encoded = encodeLegacyMessageSet(
      [
        { key: null, value: Buffer.from('a'), timestamp: 5n },
        { key: null, value: Buffer.from('b'), timestamp: 9n },
      ],
      {
        magic: LegacyMagic.v1,
        compression: CompressionType.gzip,
        timestampType: TimestampType.logAppendTime,
      },
    );
    const wrapper = decodeLegacyMessage(encoded);
    assert.equal(wrapper.timestampType, TimestampType.logAppendTime);
    assert.equal(wrapper.timestamp, 9n);
    assert.deepEqual(
      decodeLegacyMessageSet(encoded).messages.map((m) => m.timestamp),
      [9n, 9n],
    );
  });

  it('refuses zstd and other magics', () => {
    assert.throws(
      () =>
        encodeLegacyMessageSet([], { magic: LegacyMagic.v1, compression: CompressionType.zstd }),
      /not available/,
    );
    assert.throws(() => encodeLegacyMessageSet([], { magic: 2 as LegacyMagic }), /magic/);
  });
});
