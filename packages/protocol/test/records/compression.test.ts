import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { constants, crc32, createZstdCompress, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { compressFrameSync } from 'lz4-napi';
import { compressSync as rawSnappy } from 'snappy';
import { ProtocolDecodeError } from '../../src/errors/brook-error.ts';
import {
  CompressionType,
  compress,
  decompress,
  toCompressionType,
} from '../../src/records/compression/codec.ts';
import { lz4Compress, lz4Decompress, xxhash32 } from '../../src/records/compression/lz4.ts';
import {
  SnappyFraming,
  snappyCompress,
  snappyDecompress,
} from '../../src/records/compression/snappy.ts';
import { zstdDecompress } from '../../src/records/compression/zstd.ts';

const CODECS = [
  CompressionType.gzip,
  CompressionType.snappy,
  CompressionType.lz4,
  CompressionType.zstd,
] as const;
const MiB = 1024 * 1024;
const LIMIT = { maxOutputBytes: 64 * MiB };

function isDecodeError(error: unknown): boolean {
  return error instanceof ProtocolDecodeError;
}

/** Compressible but not trivial input of `size` bytes. */
function sampleText(size: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  for (let index = 0; index < size; index++)
    out[index] = 97 + ((index * 7) % 13) + ((index >> 9) % 3);
  return out;
}

async function zstdStreamed(input: Buffer): Promise<Buffer> {
  const stream = createZstdCompress();
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  const done = new Promise<void>((resolve, reject) => {
    stream.on('end', resolve);
    stream.on('error', reject);
  });
  stream.write(input.subarray(0, input.length >> 1));
  stream.end(input.subarray(input.length >> 1));
  await done;
  return Buffer.concat(chunks);
}

describe('compression codecs', () => {
  it('round-trip random bytes with every codec', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...CODECS),
        fc.uint8Array({ maxLength: 2000 }),
        (codec, bytes) => {
          const input = Buffer.from(bytes);
          const packed = compress(codec, input);
          assert.deepEqual(decompress(codec, packed, LIMIT), input);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('round-trip inputs spanning many blocks', () => {
    const input = sampleText(700 * 1024);
    for (const codec of CODECS) {
      assert.deepEqual(decompress(codec, compress(codec, input), LIMIT), input, `codec ${codec}`);
    }
  });

  it('refuse output above maxOutputBytes with ProtocolDecodeError (zip bombs)', () => {
    const zeros = Buffer.alloc(8 * MiB);
    for (const codec of CODECS) {
      const bomb = compress(codec, zeros);
      assert.ok(bomb.length < MiB, `codec ${codec} compresses zeros`);
      assert.throws(() => decompress(codec, bomb, { maxOutputBytes: MiB }), isDecodeError);
      assert.equal(decompress(codec, bomb, { maxOutputBytes: 8 * MiB }).length, 8 * MiB);
    }
    assert.throws(
      () =>
        snappyDecompress(snappyCompress(zeros, { framing: SnappyFraming.raw }), {
          maxOutputBytes: MiB,
        }),
      isDecodeError,
    );
  });

  it('reject garbage and truncated input with ProtocolDecodeError only', () => {
    const input = sampleText(5000);
    let random = 12345;
    const next = () => {
      random = (Math.imul(random, 1103515245) + 12345) >>> 0;
      return random;
    };
    for (const codec of CODECS) {
      const packed = compress(codec, input);
      for (let round = 0; round < 150; round++) {
        const mutated = Buffer.from(packed);
        if (round % 3 === 0) {
          const at = next() % mutated.length;
          mutated[at] = mutated[at]! ^ (1 + (next() % 255));
        }
        const cut = round % 3 === 1 ? mutated.subarray(0, next() % mutated.length) : mutated;
        const garbage =
          round % 3 === 2 ? Buffer.from(Array.from({ length: next() % 64 }, next)) : cut;
        try {
          decompress(codec, garbage, LIMIT);
        } catch (error) {
          assert.ok(isDecodeError(error), `codec ${codec}: ${String(error)}`);
        }
      }
    }
  });

  it('map compression ids, refusing the undefined ones', () => {
    assert.equal(toCompressionType(4), CompressionType.zstd);
    for (const id of [5, 6, 7, -1]) assert.throws(() => toCompressionType(id), isDecodeError);
  });
});

describe('snappy', () => {
  it('writes the xerial framing of the Java client: header, then 32 KiB blocks', () => {
    const input = sampleText(70 * 1024);
    const packed = snappyCompress(input);
    assert.deepEqual(
      packed.subarray(0, 8),
      Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0]),
    );
    assert.equal(packed.readInt32BE(8), 1);
    assert.equal(packed.readInt32BE(12), 1);
    let position = 16;
    const blockInputs: number[] = [];
    while (position < packed.length) {
      const length = packed.readInt32BE(position);
      const block = packed.subarray(position + 4, position + 4 + length);
      blockInputs.push(snappyDecompress(block, LIMIT).length); // a raw block on its own
      position += 4 + length;
    }
    assert.equal(position, packed.length);
    assert.deepEqual(blockInputs, [32768, 32768, 6144]);
  });

  it('reads hand-built xerial and raw snappy (the librdkafka form)', () => {
    // "hello" as one literal: preamble 5, tag (5 - 1) << 2.
    const raw = Buffer.from([0x05, 0x10, ...Buffer.from('hello')]);
    assert.equal(snappyDecompress(raw, LIMIT).toString(), 'hello');
    const header = Buffer.from([
      0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0, 0, 0, 0, 1, 0, 0, 0, 1,
    ]);
    const block = Buffer.concat([Buffer.from([0, 0, 0, raw.length]), raw]);
    const xerial = Buffer.concat([header, block, block]);
    assert.equal(snappyDecompress(xerial, LIMIT).toString(), 'hellohello');
    // concatenated streams repeat the header mid-way, as snappy-java accepts
    const concatenated = Buffer.concat([header, block, header, block]);
    assert.equal(snappyDecompress(concatenated, LIMIT).toString(), 'hellohello');
    // the library's own raw output
    const input = sampleText(100_000);
    assert.deepEqual(snappyDecompress(rawSnappy(input), LIMIT), input);
    assert.deepEqual(
      snappyDecompress(snappyCompress(input, { framing: SnappyFraming.raw }), LIMIT),
      input,
    );
  });

  it('reads an empty xerial stream as empty', () => {
    const header = snappyCompress(Buffer.alloc(0));
    assert.equal(header.length, 16);
    assert.equal(snappyDecompress(header, LIMIT).length, 0);
  });
});

describe('lz4', () => {
  const hello = Buffer.from('hello');
  const storedBlock = Buffer.concat([Buffer.from([5, 0, 0, 0x80]), hello, Buffer.alloc(4)]);
  const magic = Buffer.from([0x04, 0x22, 0x4d, 0x18]);

  it('computes xxHash32 as the specification does', () => {
    assert.equal(xxhash32(Buffer.alloc(0)), 0x02cc5d05);
    assert.equal(xxhash32(Buffer.from('a')), 0x550d7456);
    assert.equal(xxhash32(Buffer.from('abc')), 0x32d153ff);
    assert.equal(xxhash32(Buffer.from('Nobody inspects the spammish repetition')), 0xe2293b2f);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        // lz4_flex writes xxHash32 of the content as the frame's content checksum
        const frame = compressFrameSync(Buffer.from(bytes), { contentChecksum: true });
        assert.equal(xxhash32(bytes), frame.readUInt32LE(frame.length - 4));
      }),
      { numRuns: 50 },
    );
  });

  it('reads a hand-built frame, and the pre-0.10 broken header checksum only when asked', () => {
    // Kafka's own test vectors: FLG 0x60, BD 0x40; HC 0x82 is right, 0x1A the KAFKA-3160 one.
    const good = Buffer.concat([magic, Buffer.from([0x60, 0x40, 0x82]), storedBlock]);
    const broken = Buffer.concat([magic, Buffer.from([0x60, 0x40, 0x1a]), storedBlock]);
    assert.equal(lz4Decompress(good, LIMIT).toString(), 'hello');
    assert.throws(() => lz4Decompress(broken, LIMIT), isDecodeError);
    const copy = Buffer.from(broken);
    const options = { ...LIMIT, acceptBrokenHeaderChecksum: true };
    assert.equal(lz4Decompress(broken, options).toString(), 'hello');
    assert.deepEqual(broken, copy, 'the input is not modified');
    assert.equal(lz4Decompress(good, options).toString(), 'hello');
  });

  it('writes independent blocks, and the broken checksum for magic 0', () => {
    const packed = lz4Compress(sampleText(1000));
    assert.equal(packed.readUInt32LE(0), 0x184d2204);
    assert.ok(packed[4]! & 0x20, 'block independence flag');
    const broken = lz4Compress(hello, { brokenHeaderChecksum: true });
    assert.equal(broken[6], (xxhash32(broken.subarray(0, 6)) >>> 8) & 0xff);
    assert.throws(() => lz4Decompress(broken, LIMIT), isDecodeError);
    assert.equal(
      lz4Decompress(broken, { ...LIMIT, acceptBrokenHeaderChecksum: true }).toString(),
      'hello',
    );
  });

  it('checks block and content checksums', () => {
    const input = sampleText(300_000);
    const frame = compressFrameSync(input, { blockChecksums: true, contentChecksum: true });
    assert.equal(frame[4]! & 0x14, 0x14, 'both checksum flags set');
    assert.deepEqual(lz4Decompress(frame, LIMIT), input);
    const badContent = Buffer.from(frame);
    badContent[badContent.length - 1] = badContent[badContent.length - 1]! ^ 1;
    assert.throws(() => lz4Decompress(badContent, LIMIT), /content checksum/);
    const badBlock = Buffer.from(frame);
    badBlock[20] = badBlock[20]! ^ 1; // inside the first block
    assert.throws(() => lz4Decompress(badBlock, LIMIT), /block checksum/);
  });

  it('reads concatenated and skippable frames, and refuses trailing garbage', () => {
    const a = lz4Compress(Buffer.from('first '));
    const b = lz4Compress(Buffer.from('second'));
    const skippable = Buffer.from([0x5a, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3]);
    assert.equal(lz4Decompress(Buffer.concat([a, skippable, b]), LIMIT).toString(), 'first second');
    assert.throws(
      () => lz4Decompress(Buffer.concat([a, Buffer.from([1, 2])]), LIMIT),
      isDecodeError,
    );
  });

  it('reads frames of linked blocks through the library, bounded', () => {
    const input = sampleText(600_000);
    const frame = Buffer.from(lz4Compress(input));
    frame[4] = frame[4]! & ~0x20; // clear block independence; independent blocks are valid linked ones
    frame[6] = (xxhash32(frame.subarray(4, 6)) >>> 8) & 0xff;
    assert.deepEqual(lz4Decompress(frame, LIMIT), input);
    assert.throws(() => lz4Decompress(frame, { maxOutputBytes: 1000 }), isDecodeError);
    const zeros = Buffer.from(lz4Compress(Buffer.alloc(16 * MiB)));
    zeros[4] = zeros[4]! & ~0x20;
    zeros[6] = (xxhash32(zeros.subarray(4, 6)) >>> 8) & 0xff;
    assert.throws(() => lz4Decompress(zeros, { maxOutputBytes: MiB }), /more than/);
  });

  it('checks a declared content size against the limit', () => {
    const descriptor = Buffer.from([0x68, 0x40, 0, 0, 0, 0, 0, 0, 0, 0]);
    descriptor.writeBigUInt64LE(5n, 2);
    const hc = (xxhash32(descriptor) >>> 8) & 0xff;
    const frame = Buffer.concat([magic, descriptor, Buffer.from([hc]), storedBlock]);
    assert.equal(lz4Decompress(frame, LIMIT).toString(), 'hello');
    descriptor.writeBigUInt64LE(1n << 40n, 2);
    const lying = Buffer.concat([
      magic,
      descriptor,
      Buffer.from([(xxhash32(descriptor) >>> 8) & 0xff]),
      storedBlock,
    ]);
    assert.throws(() => lz4Decompress(lying, LIMIT), isDecodeError);
  });
});

describe('zstd', () => {
  it('reads streamed frames, whose header has no content size (like zstd-jni output)', async () => {
    const input = sampleText(300_000);
    const frame = await zstdStreamed(input);
    const descriptor = frame[4]!;
    assert.equal(descriptor & 0xc0, 0, 'no frame content size');
    assert.equal(descriptor & 0x20, 0, 'not single segment');
    assert.deepEqual(zstdDecompress(frame, LIMIT), input);
    assert.throws(() => zstdDecompress(frame, { maxOutputBytes: 1000 }), isDecodeError);
  });

  it('reads concatenated frames, bounded as a whole, and refuses trailing garbage', () => {
    const a = compress(CompressionType.zstd, Buffer.from('hello '));
    const b = compress(CompressionType.zstd, Buffer.from('world'));
    assert.equal(zstdDecompress(Buffer.concat([a, b]), LIMIT).toString(), 'hello world');
    assert.throws(() => zstdDecompress(Buffer.concat([a, b]), { maxOutputBytes: 8 }), /more than/);
    assert.throws(
      () => zstdDecompress(Buffer.concat([a, Buffer.from([1, 2, 3])]), LIMIT),
      isDecodeError,
    );
  });

  it('reads frames that state their size too', () => {
    const input = sampleText(10_000);
    const packed = compress(CompressionType.zstd, input, { level: constants.ZSTD_CLEVEL_DEFAULT });
    assert.deepEqual(decompress(CompressionType.zstd, packed, LIMIT), input);
  });
});

describe('gzip', () => {
  it('reads what any gzip writer wrote, several members too', () => {
    const one = gzipSync(Buffer.from('abc'));
    assert.equal(
      decompress(CompressionType.gzip, Buffer.concat([one, one]), LIMIT).toString(),
      'abcabc',
    );
    assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
  });
});
