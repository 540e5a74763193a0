/**
 * MurmurHash2 (32-bit, seed 0x9747b28c) exactly as Kafka's Java client computes it
 * (`Utils.murmur2`), and librdkafka's `murmur2` / `murmur2_random` partitioners. A key's
 * partition is `toPositive(murmur2(key)) % partitionCount`, so Brook's producer puts a key where
 * the Java client, librdkafka, confluent-kafka and kafkajs's default partitioner put it.
 */

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/** The signed 32-bit hash (the value Java's `Utils.murmur2` returns). */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = SEED ^ length;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const tail = length & 3;
  if (tail !== 0) {
    if (tail === 3) h ^= data[whole + 2]! << 16;
    if (tail >= 2) h ^= data[whole + 1]! << 8;
    h ^= data[whole]!;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** Java's `Utils.toPositive`: the sign bit cleared (not the absolute value). */
export function toPositive(hash: number): number {
  return hash & 0x7fffffff;
}

/** The partition Kafka's clients choose for a non-null key. */
export function murmur2Partition(key: Uint8Array, partitionCount: number): number {
  return toPositive(murmur2(key)) % partitionCount;
}
