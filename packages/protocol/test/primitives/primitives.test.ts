import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ProtocolDecodeError } from '../../src/errors/brook-error.ts';
import { Reader } from '../../src/primitives/reader.ts';
import { Writer } from '../../src/primitives/writer.ts';

describe('varints', () => {
  it('encodes unsigned varints as Kafka does', () => {
    const cases: [number, number[]][] = [
      [0, [0x00]],
      [1, [0x01]],
      [127, [0x7f]],
      [128, [0x80, 0x01]],
      [300, [0xac, 0x02]],
      [0xffffffff, [0xff, 0xff, 0xff, 0xff, 0x0f]],
    ];
    for (const [value, bytes] of cases) {
      assert.deepEqual([...new Writer().writeUVarint(value).toBuffer()], bytes);
      assert.equal(new Reader(Buffer.from(bytes)).readUVarint(), value);
    }
  });

  it('zigzags signed varints', () => {
    const cases: [number, number[]][] = [
      [0, [0x00]],
      [-1, [0x01]],
      [1, [0x02]],
      [-64, [0x7f]],
      [64, [0x80, 0x01]],
      [2147483647, [0xfe, 0xff, 0xff, 0xff, 0x0f]],
      [-2147483648, [0xff, 0xff, 0xff, 0xff, 0x0f]],
    ];
    for (const [value, bytes] of cases) {
      assert.deepEqual([...new Writer().writeVarint(value).toBuffer()], bytes);
      assert.equal(new Reader(Buffer.from(bytes)).readVarint(), value);
    }
  });

  it('round-trips any int32 varint and int64 varlong', () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (value) => {
        const bytes = new Writer().writeVarint(value).toBuffer();
        assert.equal(new Reader(bytes).readVarint(), value);
      }),
    );
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (value) => {
        const bytes = new Writer().writeVarlong(value).toBuffer();
        const reader = new Reader(bytes);
        assert.equal(reader.readVarlong(), value);
        assert.equal(reader.remaining, 0);
      }),
    );
    fc.assert(
      fc.property(fc.maxSafeInteger(), (value) => {
        const bytes = new Writer().writeVarlongNumber(value).toBuffer();
        assert.deepEqual(bytes, new Writer().writeVarlong(BigInt(value)).toBuffer());
        assert.equal(new Reader(bytes).readVarlongNumber(), value);
      }),
    );
  });

  it('rejects varints that are too long or cut short', () => {
    const bad = [[0x80], [0xff, 0xff, 0xff, 0xff, 0xff, 0x01], [0xff, 0xff, 0xff, 0xff, 0x1f]];
    for (const bytes of bad) {
      assert.throws(() => new Reader(Buffer.from(bytes)).readUVarint(), ProtocolDecodeError);
    }
    const long = Buffer.alloc(11, 0xff);
    assert.throws(() => new Reader(long).readVarlong(), ProtocolDecodeError);
  });
});

describe('reader bounds', () => {
  it('refuses to read past the end', () => {
    const reader = new Reader(Buffer.from([0, 5, 0x61]));
    assert.throws(() => reader.readString(), ProtocolDecodeError);
    assert.throws(() => new Reader(Buffer.alloc(3)).readInt32(), ProtocolDecodeError);
    assert.throws(() => new Reader(Buffer.from([0xff, 0xfe])).readString(), ProtocolDecodeError);
  });

  it('bounds array lengths by the bytes left', () => {
    const bytes = new Writer().writeInt32(1_000_000_000).toBuffer();
    assert.throws(() => new Reader(bytes).readArrayLength(false, false), ProtocolDecodeError);
    const nullArray = new Writer().writeInt32(-1).toBuffer();
    assert.equal(new Reader(nullArray).readArrayLength(false, true), -1);
    assert.throws(() => new Reader(nullArray).readArrayLength(false, false), ProtocolDecodeError);
  });
});

describe('writer', () => {
  it('links large byte strings without copying and patches across chunks', () => {
    const big = Buffer.alloc(1 << 20, 7);
    const writer = new Writer();
    const at = writer.reserve(4);
    writer.writeInt16(1).writeBytes(big).writeInt16(2);
    writer.patchInt32(at, writer.length - 4);
    const chunks = writer.toChunks();
    assert.ok(chunks.includes(big), 'the 1 MiB buffer is linked by reference');
    const all = writer.toBuffer();
    assert.equal(all.readInt32BE(0), 2 + big.length + 2);
    assert.equal(all.readInt16BE(4 + 2 + big.length), 2);
  });

  it('round-trips strings of any unicode', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), (value) => {
        const writer = new Writer(1);
        writer.writeString(value).writeCompactString(value).writeCompactNullableString(null);
        const reader = new Reader(writer.toBuffer());
        assert.equal(reader.readString(), value);
        assert.equal(reader.readCompactString(), value);
        assert.equal(reader.readCompactNullableString(), null);
      }),
    );
  });

  it('writes and reads UUIDs', () => {
    const id = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
    const bytes = new Writer().writeUuid(id).toBuffer();
    assert.equal(bytes.toString('hex'), id.replaceAll('-', ''));
    assert.equal(new Reader(bytes).readUuid(), id);
  });
});
