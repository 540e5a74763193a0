/**
 * Typed keys and values: a serializer turns the application's value into the bytes of a record
 * (null for a null key or value, a tombstone), a deserializer turns them back. Kept small on
 * purpose: anything richer (schemas, registries) is a function of this shape.
 */

/** Application value → record bytes (null: a null key or value). */
export type Serializer<T> = (value: T) => Buffer | null;

/** Record bytes (null for a null key or value) → application value. */
export type Deserializer<T> = (bytes: Buffer | null) => T;

/** Bytes as they are: a Buffer (or any Uint8Array, viewed without a copy), a string as UTF-8. */
export const bufferSerializer: Serializer<Buffer | Uint8Array | string | null | undefined> = (
  value,
) => {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  if (Buffer.isBuffer(value)) return value;
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
};

/** UTF-8 text; null stays null. */
export const stringSerializer: Serializer<string | null> = (value) =>
  value === null ? null : Buffer.from(value, 'utf8');

export const stringDeserializer: Deserializer<string | null> = (bytes) =>
  bytes === null ? null : bytes.toString('utf8');

/** `JSON.stringify` as UTF-8; null and undefined are a null record key or value. */
export const jsonSerializer: Serializer<unknown> = (value) =>
  value === null || value === undefined ? null : Buffer.from(JSON.stringify(value), 'utf8');

export const jsonDeserializer: Deserializer<unknown> = (bytes) =>
  bytes === null ? null : (JSON.parse(bytes.toString('utf8')) as unknown);
