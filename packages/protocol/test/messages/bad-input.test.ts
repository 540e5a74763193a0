/**
 * Each kind of bad input the issue names gives a typed error (ProtocolDecodeError, or
 * UnsupportedVersionError for a version a codec lacks): never another exception, a hang, or an
 * allocation sized by the hostile length. (CRC mismatches: test/records.)
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ApiKey,
  FetchRequest,
  FrameDecoder,
  MetadataRequest,
  ProduceRequest,
  ProtocolDecodeError,
  Reader,
  readRequestFrame,
  UnsupportedVersionError,
  Writer,
  writeRequestFrame,
} from '../../src/index.ts';

function produceFrame(version: number): Buffer {
  const writer = new Writer();
  writeRequestFrame(
    writer,
    { apiKey: ApiKey.Produce, apiVersion: version, correlationId: 3, clientId: 'c' },
    (w) =>
      ProduceRequest.write(
        w,
        {
          acks: 1,
          timeoutMs: 100,
          topicData: [{ name: 't', partitionData: [{ index: 0, records: Buffer.alloc(20, 1) }] }],
        },
        version,
      ),
  );
  return writer.toBuffer().subarray(4);
}

describe('bad input', () => {
  it('truncated frames: every cut of a request fails cleanly', () => {
    for (const version of [3, 9]) {
      const frame = produceFrame(version);
      for (let cut = 0; cut < frame.length; cut++) {
        assert.throws(() => {
          const request = readRequestFrame(frame.subarray(0, cut));
          ProduceRequest.decode(request.body, version);
        }, ProtocolDecodeError);
      }
    }
  });

  it('a frame split across reads waits for the rest instead of failing', () => {
    const decoder = new FrameDecoder({ maxFrameBytes: 1 << 20 });
    const frame = Buffer.concat([Buffer.from([0, 0, 0, 10]), Buffer.alloc(10)]);
    assert.deepEqual(decoder.push(frame.subarray(0, 7)), []);
    assert.equal(decoder.push(frame.subarray(7)).length, 1);
  });

  it('negative lengths', () => {
    // Metadata v1: topics array of length -2.
    const negativeArray = new Writer().writeInt32(-2).writeBool(true).toBuffer();
    assert.throws(() => MetadataRequest.decode(new Reader(negativeArray), 4), ProtocolDecodeError);
    // Produce v3: transactional id with length -3.
    const negativeString = new Writer().writeInt16(-3).toBuffer();
    assert.throws(() => ProduceRequest.decode(new Reader(negativeString), 3), ProtocolDecodeError);
    // Produce v3: records with length -7 (only -1 means null).
    const writer = new Writer().writeInt16(-1).writeInt16(1).writeInt32(0).writeInt32(1);
    writer.writeString('t').writeInt32(1).writeInt32(0).writeInt32(-7);
    assert.throws(
      () => ProduceRequest.decode(new Reader(writer.toBuffer()), 3),
      ProtocolDecodeError,
    );
  });

  it('oversized lengths are refused before anything is allocated', () => {
    // An array that claims two billion elements in a 9-byte body.
    const huge = new Writer().writeInt32(0x7fffffff).writeBool(true).toBuffer();
    const before = process.memoryUsage().arrayBuffers;
    assert.throws(() => MetadataRequest.decode(new Reader(huge), 4), ProtocolDecodeError);
    assert.ok(process.memoryUsage().arrayBuffers - before < 1 << 20);
    const decoder = new FrameDecoder({ maxFrameBytes: 100 * 1024 * 1024 });
    assert.throws(() => decoder.push(Buffer.from([0x40, 0, 0, 0])), ProtocolDecodeError);
  });

  it('lengths past the end of the frame', () => {
    // Fetch v4 whose topic name claims 200 bytes.
    const writer = new Writer()
      .writeInt32(-1)
      .writeInt32(500)
      .writeInt32(1)
      .writeInt32(1 << 20);
    writer.writeInt8(0).writeInt32(1).writeInt16(200).writeUtf8('abc', 3);
    assert.throws(() => FetchRequest.decode(new Reader(writer.toBuffer()), 4), ProtocolDecodeError);
  });

  it('bad varints in compact lengths', () => {
    // Metadata v9 (flexible): the compact array length is a varint that never ends.
    const endless = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    assert.throws(() => MetadataRequest.decode(new Reader(endless), 9), ProtocolDecodeError);
    const cut = Buffer.from([0x80]);
    assert.throws(() => MetadataRequest.decode(new Reader(cut), 9), ProtocolDecodeError);
  });

  it('unknown api keys and versions', () => {
    const unknownKey = Buffer.from([0x7f, 0x00, 0, 0, 0, 0, 0, 1, 0, 0]);
    assert.equal(readRequestFrame(unknownKey).api, undefined);
    const unknownVersion = Buffer.from([0, 0, 0x00, 0x63, 0, 0, 0, 1, 0, 0]);
    const frame = readRequestFrame(unknownVersion);
    assert.equal(frame.api?.name, 'Produce');
    assert.equal(frame.header.requestApiVersion, 99);
    assert.throws(() => ProduceRequest.decode(frame.body, 99), UnsupportedVersionError);
    assert.throws(
      () => ProduceRequest.encode({ acks: 1, timeoutMs: 1, topicData: [] }, 12),
      UnsupportedVersionError,
    );
  });

  it('a field the version cannot carry is refused on encode', () => {
    assert.throws(
      () =>
        ProduceRequest.encode({ transactionalId: 'tx', acks: 1, timeoutMs: 1, topicData: [] }, 2),
      UnsupportedVersionError,
    );
  });
});
