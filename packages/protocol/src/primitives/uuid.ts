import { ProtocolDecodeError } from '../errors/brook-error.ts';

/** The all-zero UUID Kafka uses as "no id" (e.g. a topic id unknown to an old client). */
export const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Writes the 16 bytes of a UUID in its canonical text form into `target` at `offset`. */
export function writeUuid(target: Buffer, offset: number, uuid: string): void {
  if (uuid.length !== 36 || !UUID_PATTERN.test(uuid)) {
    throw new ProtocolDecodeError(`not a UUID: ${JSON.stringify(uuid)}`);
  }
  target.write(uuid.replaceAll('-', ''), offset, 16, 'hex');
}

/** Reads 16 bytes at `offset` as a UUID in its canonical lower-case text form. */
export function readUuid(source: Buffer, offset: number): string {
  const hex = source.toString('hex', offset, offset + 16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Kafka prints UUIDs (topic ids, cluster ids) as URL-safe base64 without padding. */
export function uuidToBase64(uuid: string): string {
  const bytes = Buffer.alloc(16);
  writeUuid(bytes, 0, uuid);
  return bytes.toString('base64url');
}

export function uuidFromBase64(text: string): string {
  const bytes = Buffer.from(text, 'base64url');
  if (bytes.length !== 16) throw new ProtocolDecodeError(`not a base64 UUID: ${text}`);
  return readUuid(bytes, 0);
}

/** A random version-4 UUID; Kafka never hands out ids whose first bytes read as the zero id. */
export function randomUuid(): string {
  return crypto.randomUUID();
}
