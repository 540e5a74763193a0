/**
 * CRC-32C in plain JavaScript, for the benchmark's comparison with the native library only:
 * the classic byte-at-a-time table lookup, and slicing-by-8 (eight tables, eight bytes a step),
 * the fastest common pure-JS form.
 */
const POLYNOMIAL = 0x82f63b78; // Castagnoli, reflected

const TABLES = (() => {
  const tables = Array.from({ length: 8 }, () => new Int32Array(256));
  const first = tables[0]!;
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ POLYNOMIAL : crc >>> 1;
    first[byte] = crc;
  }
  for (let byte = 0; byte < 256; byte++) {
    let crc = first[byte]!;
    for (let table = 1; table < 8; table++) {
      crc = first[crc & 0xff]! ^ (crc >>> 8);
      tables[table]![byte] = crc;
    }
  }
  return tables;
})();

export function crc32cTable(bytes: Uint8Array, previous = 0): number {
  const table = TABLES[0]!;
  let crc = ~previous;
  for (let index = 0; index < bytes.length; index++) {
    crc = table[(crc ^ bytes[index]!) & 0xff]! ^ (crc >>> 8);
  }
  return ~crc >>> 0;
}

export function crc32cSlicingBy8(bytes: Uint8Array, previous = 0): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES as [
    Int32Array,
    Int32Array,
    Int32Array,
    Int32Array,
    Int32Array,
    Int32Array,
    Int32Array,
    Int32Array,
  ];
  let crc = ~previous;
  let index = 0;
  const end8 = bytes.length - (bytes.length % 8);
  for (; index < end8; index += 8) {
    const low =
      crc ^
      (bytes[index]! |
        (bytes[index + 1]! << 8) |
        (bytes[index + 2]! << 16) |
        (bytes[index + 3]! << 24));
    crc =
      t7[low & 0xff]! ^
      t6[(low >>> 8) & 0xff]! ^
      t5[(low >>> 16) & 0xff]! ^
      t4[low >>> 24]! ^
      t3[bytes[index + 4]!]! ^
      t2[bytes[index + 5]!]! ^
      t1[bytes[index + 6]!]! ^
      t0[bytes[index + 7]!]!;
  }
  for (; index < bytes.length; index++) crc = t0[(crc ^ bytes[index]!) & 0xff]! ^ (crc >>> 8);
  return ~crc >>> 0;
}
