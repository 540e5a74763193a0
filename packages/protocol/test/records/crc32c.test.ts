import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { crc32c } from '../../src/records/crc32c.ts';

/** Bit-at-a-time CRC-32C (reflected polynomial 0x82F63B78): slow and obviously right. */
function referenceCrc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

describe('crc32c', () => {
  it('matches the known vectors', () => {
    assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
    assert.equal(crc32c(Buffer.alloc(0)), 0);
    // RFC 3720 (iSCSI), appendix B.4
    assert.equal(crc32c(Buffer.alloc(32, 0x00)), 0x8a9136aa);
    assert.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43);
    const ascending = Buffer.from(Array.from({ length: 32 }, (_, index) => index));
    assert.equal(crc32c(ascending), 0x46dd794e);
    assert.equal(crc32c(Buffer.from(ascending).reverse()), 0x113fdb5c);
  });

  it('agrees with a bitwise reference and continues across pieces', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), (bytes, cut) => {
        const expected = referenceCrc32c(bytes);
        assert.equal(crc32c(bytes), expected);
        const at = bytes.length === 0 ? 0 : cut % bytes.length;
        assert.equal(crc32c(bytes.subarray(at), crc32c(bytes.subarray(0, at))), expected);
      }),
    );
  });
});
