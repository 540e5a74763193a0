import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ApiVersionsRequest,
  ApiVersionsResponse,
  ProtocolDecodeError,
  Reader,
  Writer,
} from '../../src/index.ts';

describe('tagged fields', () => {
  it('keeps unknown tags and re-encodes them byte for byte', () => {
    const writer = new Writer();
    writer.writeCompactString('brook').writeCompactString('1.0');
    writer.writeUVarint(2); // two tagged fields, both unknown to ApiVersionsRequest v3
    writer.writeUVarint(5).writeUVarint(2).writeUInt8(0xaa).writeUInt8(0xbb);
    writer.writeUVarint(9).writeUVarint(1).writeUInt8(0xcc);
    const bytes = writer.toBuffer();
    const decoded = ApiVersionsRequest.decode(new Reader(bytes), 3);
    assert.equal(decoded.clientSoftwareName, 'brook');
    assert.deepEqual(
      decoded._unknownTaggedFields?.map((f) => [f.tag, [...f.data]]),
      [
        [5, [0xaa, 0xbb]],
        [9, [0xcc]],
      ],
    );
    assert.deepEqual(ApiVersionsRequest.encode(decoded, 3), bytes);
  });

  it('merges known and unknown tags in ascending order', () => {
    const response = ApiVersionsResponse.decode(
      new Reader(
        ApiVersionsResponse.encode(
          { errorCode: 0, apiKeys: [], throttleTimeMs: 0, finalizedFeaturesEpoch: 7n },
          3,
        ),
      ),
      3,
    );
    assert.equal(response.finalizedFeaturesEpoch, 7n);
    const withUnknown = {
      ...response,
      _unknownTaggedFields: [{ tag: 0x7f, data: Buffer.from([1]) }],
    };
    const bytes = ApiVersionsResponse.encode(withUnknown, 3);
    const again = ApiVersionsResponse.decode(new Reader(bytes), 3);
    assert.equal(again.finalizedFeaturesEpoch, 7n);
    assert.equal(again._unknownTaggedFields?.[0]?.tag, 0x7f);
    // The known tag (1) precedes the unknown one (127) on the wire.
    const tail = bytes.subarray(bytes.length - 14); // count, tag 1 (size 8 + int64), tag 127 (size 1 + 1 byte)
    assert.deepEqual([...tail.subarray(0, 3)], [2, 1, 8]);
  });

  it('writes nothing for a tagged field at its default', () => {
    const plain = ApiVersionsResponse.encode({ errorCode: 0, apiKeys: [], throttleTimeMs: 0 }, 3);
    // error code (2) + empty compact array (1) + throttle (4) + zero tagged fields (1)
    assert.equal(plain.length, 8);
    assert.equal(plain[7], 0);
  });

  it('refuses a known tagged field that runs past its declared size', () => {
    const writer = new Writer();
    writer.writeInt16(0).writeUVarint(1).writeInt32(0);
    // FinalizedFeaturesEpoch (tag 1) is an int64 but declares 2 bytes.
    writer.writeUVarint(1).writeUVarint(1).writeUVarint(2).writeInt64(5n);
    assert.throws(
      () => ApiVersionsResponse.decode(new Reader(writer.toBuffer()), 3),
      ProtocolDecodeError,
    );
  });
});
