import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ApiKey,
  ProduceRequest,
  Reader,
  readRequestFrame,
  Writer,
  writeRequestFrame,
} from '../../src/index.ts';

describe('decoding a Produce request', () => {
  for (const version of [3, 8, 9, 11]) {
    it(`v${version} slices the records out of the frame instead of copying them`, () => {
      const records = Buffer.alloc(1 << 20, 0x5a);
      const writer = new Writer();
      writeRequestFrame(
        writer,
        { apiKey: ApiKey.Produce, apiVersion: version, correlationId: 1, clientId: 'zero-copy' },
        (w) =>
          ProduceRequest.write(
            w,
            {
              transactionalId: null,
              acks: -1,
              timeoutMs: 30_000,
              topicData: [{ name: 'big', partitionData: [{ index: 0, records }] }],
            },
            version,
          ),
      );
      // As a server receives it: one buffer holding the whole frame.
      const frameBytes = Buffer.from(writer.toBuffer());
      const frame = readRequestFrame(frameBytes.subarray(4));
      const request = ProduceRequest.decode(frame.body, version);
      const decoded = request.topicData[0]?.partitionData[0]?.records;
      assert.ok(decoded);
      assert.equal(decoded.length, records.length);
      assert.equal(decoded.buffer, frameBytes.buffer, 'the records share the frame memory');
      assert.ok(decoded.equals(records));
    });
  }

  it('encodes a 1 MiB records field by reference, not by copy', () => {
    const records = Buffer.alloc(1 << 20, 1);
    const writer = new Writer();
    ProduceRequest.write(
      writer,
      { acks: 1, timeoutMs: 1, topicData: [{ name: 't', partitionData: [{ index: 0, records }] }] },
      9,
    );
    assert.ok(writer.toChunks().includes(records));
    assert.equal(new Reader(writer.toBuffer()).remaining, writer.length);
  });
});
