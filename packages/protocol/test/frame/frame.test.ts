import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  ApiKey,
  ApiVersionsResponse,
  FrameDecoder,
  FrameReader,
  MetadataRequest,
  ProtocolDecodeError,
  Reader,
  readRequestFrame,
  readResponseFrame,
  requestHeaderVersion,
  responseHeaderVersion,
  Writer,
  writeRequestFrame,
  writeResponseFrame,
} from '../../src/index.ts';

describe('header versions', () => {
  it('follow flexible versions, with Kafka exceptions', () => {
    assert.equal(requestHeaderVersion(ApiKey.Produce, 8), 1);
    assert.equal(requestHeaderVersion(ApiKey.Produce, 9), 2);
    assert.equal(responseHeaderVersion(ApiKey.Produce, 8), 0);
    assert.equal(responseHeaderVersion(ApiKey.Produce, 9), 1);
    assert.equal(requestHeaderVersion(ApiKey.ControlledShutdown, 0), 0);
    assert.equal(requestHeaderVersion(ApiKey.ControlledShutdown, 1), 1);
    assert.equal(requestHeaderVersion(ApiKey.ApiVersions, 3), 2);
    assert.equal(responseHeaderVersion(ApiKey.ApiVersions, 3), 0, 'ApiVersions answers in v0');
    assert.equal(requestHeaderVersion(ApiKey.Metadata, 9), 2);
    assert.throws(() => requestHeaderVersion(999, 0), ProtocolDecodeError);
  });
});

describe('request frames', () => {
  it('write and read back a Metadata v12 request byte for byte', () => {
    const writer = new Writer();
    const header = { apiKey: ApiKey.Metadata, apiVersion: 12, correlationId: 7, clientId: 'brook' };
    const body = {
      topics: [{ topicId: '00000000-0000-0000-0000-000000000000', name: 'orders' }],
      allowAutoTopicCreation: true,
      includeTopicAuthorizedOperations: false,
    };
    writeRequestFrame(writer, header, (w) => MetadataRequest.write(w, body, 12));
    const bytes = writer.toBuffer();
    assert.equal(bytes.readInt32BE(0), bytes.length - 4);
    const frame = readRequestFrame(bytes.subarray(4));
    assert.equal(frame.headerVersion, 2);
    assert.equal(frame.header.clientId, 'brook');
    assert.equal(frame.header.correlationId, 7);
    const decoded = MetadataRequest.decode(frame.body, 12);
    assert.equal(frame.body.remaining, 0);
    assert.deepEqual(decoded.topics?.[0]?.name, 'orders');
    // The client id is a classic (non-compact) nullable string even in header v2.
    assert.deepEqual([...bytes.subarray(12, 14)], [0, 5]);
  });

  it('still yields the header of an unknown api key or version', () => {
    const bytes = Buffer.from([0x03, 0xe7, 0x00, 0x63, 0, 0, 0, 42, 0xff, 0xff]);
    const frame = readRequestFrame(bytes);
    assert.equal(frame.api, undefined);
    assert.equal(frame.header.requestApiKey, 999);
    assert.equal(frame.header.correlationId, 42);
    assert.equal(frame.header.clientId, null);
    assert.throws(() => readRequestFrame(Buffer.from([0, 1, 0])), ProtocolDecodeError);
  });
});

describe('response frames', () => {
  it('use header v0 for ApiVersions even at flexible versions', () => {
    const writer = new Writer();
    writeResponseFrame(
      writer,
      { apiKey: ApiKey.ApiVersions, apiVersion: 3, correlationId: 9 },
      (w) => ApiVersionsResponse.write(w, { errorCode: 35, apiKeys: [], throttleTimeMs: 0 }, 3),
    );
    const bytes = writer.toBuffer();
    // size, correlation id, then straight to the body: no tagged-field byte after the id.
    assert.equal(bytes.readInt32BE(4), 9);
    assert.equal(bytes.readInt16BE(8), 35);
    const { header, body } = readResponseFrame(bytes.subarray(4), ApiKey.ApiVersions, 3);
    assert.equal(header.correlationId, 9);
    assert.equal(ApiVersionsResponse.decode(body, 3).errorCode, 35);
  });
});

describe('FrameDecoder', () => {
  it('splits frames however the stream is chunked', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 6 }),
        fc.array(fc.integer({ min: 1, max: 17 }), { minLength: 1, maxLength: 8 }),
        (payloads, cuts) => {
          const stream = Buffer.concat(
            payloads.map((p) => {
              const frame = Buffer.alloc(4 + p.length);
              frame.writeInt32BE(p.length, 0);
              frame.set(p, 4);
              return frame;
            }),
          );
          const decoder = new FrameDecoder({ maxFrameBytes: 100 });
          const frames: Buffer[] = [];
          let at = 0;
          for (let i = 0; at < stream.length; i++) {
            const size = cuts[i % cuts.length]!;
            frames.push(...decoder.push(stream.subarray(at, at + size)));
            at += size;
          }
          assert.deepEqual(
            frames.map((f) => [...f]),
            payloads.map((p) => [...p]),
          );
          assert.equal(decoder.bufferedBytes, 0);
        },
      ),
    );
  });

  it('rejects negative and oversized sizes before buffering them', () => {
    const decoder = new FrameDecoder({ maxFrameBytes: 1024 });
    assert.throws(() => decoder.push(Buffer.from([0x7f, 0xff, 0xff, 0xff])), ProtocolDecodeError);
    const other = new FrameDecoder({ maxFrameBytes: 1024 });
    assert.throws(() => other.push(Buffer.from([0xff, 0xff, 0xff, 0xfe, 1])), ProtocolDecodeError);
  });

  it('reads the body of a request through a bounded reader', () => {
    const reader = new Reader(Buffer.from([1, 2, 3]), 0, 2);
    assert.throws(() => reader.readSlice(3), ProtocolDecodeError);
  });
});

/**
 * Feeds `stream` to a FrameReader as a socket with `onread` would: each read fills at most the
 * buffer the reader hands out, and at most the next read size from `reads`.
 */
function readThrough(reader: FrameReader, stream: Buffer, reads: readonly number[]): Buffer[] {
  const frames: Buffer[] = [];
  let at = 0;
  for (let i = 0; at < stream.length; i++) {
    const target = reader.nextBuffer();
    assert.ok(target.length > 0, 'the reader always has room for a read');
    const count = Math.min(target.length, reads[i % reads.length]!, stream.length - at);
    stream.copy(target, 0, at, at + count);
    at += count;
    frames.push(...reader.filled(count));
  }
  return frames;
}

function framed(payloads: readonly Uint8Array[]): Buffer {
  return Buffer.concat(
    payloads.map((p) => {
      const frame = Buffer.alloc(4 + p.length);
      frame.writeInt32BE(p.length, 0);
      frame.set(p, 4);
      return frame;
    }),
  );
}

describe('FrameReader', () => {
  it('splits frames however the reads fall, and never writes over a frame it returned', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.uint8Array({ maxLength: 40 }),
            fc.uint8Array({ minLength: 60, maxLength: 300 }),
          ),
          { maxLength: 12 },
        ),
        fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 8 }),
        (payloads, reads) => {
          // A 128-byte chunk: frames over 64 bytes take the read-in-place path.
          const reader = new FrameReader({ maxFrameBytes: 1000, chunkBytes: 128 });
          const frames = readThrough(reader, framed(payloads), reads);
          // Compared only after the whole stream went through the reader's buffers.
          assert.deepEqual(
            frames.map((f) => [...f]),
            payloads.map((p) => [...p]),
          );
          assert.equal(reader.bufferedBytes, 0);
        },
      ),
    );
  });

  it('reads a large frame into a buffer of its own size, with no copy of the chunks', () => {
    const big = Buffer.alloc(1 << 20, 7);
    const reader = new FrameReader({ maxFrameBytes: 2 << 20 });
    const frames = readThrough(reader, framed([Buffer.from('a'), big, Buffer.from('bc')]), [65536]);
    assert.equal(frames.length, 3);
    assert.equal(frames[1]!.length, big.length);
    assert.equal(frames[1]!.buffer.byteLength, big.length, 'the frame owns its whole buffer');
    assert.ok(frames[1]!.equals(big));
    assert.equal(frames[2]!.toString(), 'bc');
  });

  it('rejects negative and oversized sizes before allocating for them', () => {
    for (const head of [
      [0x7f, 0xff, 0xff, 0xff],
      [0xff, 0xff, 0xff, 0xfe],
    ]) {
      const reader = new FrameReader({ maxFrameBytes: 1024 });
      const target = reader.nextBuffer();
      target.set(head);
      assert.throws(() => reader.filled(4), ProtocolDecodeError);
    }
  });
});
