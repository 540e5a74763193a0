/**
 * The runtime the generated message codecs call: arrays, nullable checks, tagged fields and the
 * `MessageCodec` shape. Hand-written; generated code under `generated/` only calls it.
 */
import {
  ProtocolDecodeError,
  ProtocolEncodeError,
  UnsupportedVersionError,
} from '../errors/brook-error.ts';
import type { Reader } from './reader.ts';
import { Writer } from './writer.ts';

/** A tagged field this code does not know, kept as raw bytes so a re-encode reproduces it. */
export interface TaggedField {
  readonly tag: number;
  readonly data: Buffer;
}

/** An encoder and decoder for one message (request, response, header or data record). */
export interface MessageCodec<Value, Input = Value> {
  readonly name: string;
  /** The api key, for requests and responses. */
  readonly apiKey: number | undefined;
  readonly minVersion: number;
  readonly maxVersion: number;
  /** The first flexible version, or undefined when no version is flexible. */
  readonly firstFlexibleVersion: number | undefined;
  /** Writes `value` as `version` to `writer`. */
  write(writer: Writer, value: Input, version: number): void;
  /** Encodes `value` as `version` into a new Buffer. */
  encode(value: Input, version: number): Buffer;
  /** Reads one `version` value at the reader's position. */
  decode(reader: Reader, version: number): Value;
}

/** A zero-length buffer shared as the default of bytes fields (it cannot be written to). */
export const EMPTY_BUFFER: Buffer = Buffer.alloc(0);

export function checkVersion(name: string, version: number, min: number, max: number): void {
  if (!Number.isInteger(version) || version < min || version > max) {
    throw new UnsupportedVersionError(`${name} has no version ${version} (valid: ${min}-${max})`);
  }
}

/** A non-ignorable field that holds a value its version cannot carry. */
export function unsupportedField(path: string, version: number): never {
  throw new UnsupportedVersionError(
    `${path} is set, but version ${version} cannot carry it and it is not ignorable`,
  );
}

export function notNull<T>(value: T | null, path: string): T {
  if (value === null) throw new ProtocolEncodeError(`${path} is null, which this version forbids`);
  return value;
}

export function readString(reader: Reader, compact: boolean): string {
  return compact ? reader.readCompactString() : reader.readString();
}

export function readNullableString(reader: Reader, compact: boolean): string | null {
  return compact ? reader.readCompactNullableString() : reader.readNullableString();
}

export function writeString(writer: Writer, value: string, compact: boolean): void {
  if (compact) writer.writeCompactString(value);
  else writer.writeString(value);
}

export function writeNullableString(writer: Writer, value: string | null, compact: boolean): void {
  if (compact) writer.writeCompactNullableString(value);
  else writer.writeNullableString(value);
}

/**
 * BYTES, COMPACT_BYTES and their nullable forms. `zeroCopy` returns a view into the request
 * buffer; otherwise the bytes are copied so the value does not pin the whole request.
 */
export function readBytes(
  reader: Reader,
  compact: boolean,
  nullable: boolean,
  zeroCopy: boolean,
): Buffer | null {
  const length = compact ? reader.readCompactLength(nullable) : reader.readInt32Length(nullable);
  if (length < 0) return null;
  return zeroCopy ? reader.readSlice(length) : reader.readCopy(length);
}

export function writeBytes(writer: Writer, value: Uint8Array | null, compact: boolean): void {
  if (compact) writer.writeCompactBytes(value);
  else writer.writeBytesWithInt32Length(value);
}

/** Reads the tagged-field section of a struct whose known tags are all absent. */
export function readUnknownTaggedFields(reader: Reader): TaggedField[] | undefined {
  const count = reader.readUVarint();
  if (count === 0) return undefined;
  const unknown: TaggedField[] = [];
  for (let i = 0; i < count; i++) {
    const tag = reader.readUVarint();
    const size = reader.readUVarint();
    unknown.push({ tag, data: reader.readCopy(size) });
  }
  return unknown;
}

/** Reads a tagged field's size and returns where its bytes end. */
export function taggedFieldEnd(reader: Reader): number {
  const size = reader.readUVarint();
  reader.need(size);
  return reader.offset + size;
}

/** After a known tagged field was read: it must not have run past its declared size. */
export function finishTaggedField(reader: Reader, end: number, tag: number): void {
  if (reader.offset > end) {
    throw new ProtocolDecodeError(`tagged field ${tag} is longer than its declared size`);
  }
  reader.offset = end;
}

/** A known tagged field to write: its tag and how to write its value. */
export type TaggedWrite = readonly [tag: number, write: (writer: Writer) => void];

/** Writes a struct's tagged-field section: known and unknown fields, in ascending tag order. */
export function writeTaggedFields(
  writer: Writer,
  known: TaggedWrite[] | undefined,
  unknown: readonly TaggedField[] | undefined,
): void {
  const knownCount = known?.length ?? 0;
  const unknownCount = unknown?.length ?? 0;
  writer.writeUVarint(knownCount + unknownCount);
  if (knownCount + unknownCount === 0) return;
  const entries: { tag: number; data: Buffer }[] = [];
  for (const [tag, write] of known ?? []) {
    const scratch = new Writer(64);
    write(scratch);
    entries.push({ tag, data: scratch.toBuffer() });
  }
  for (const field of unknown ?? []) entries.push(field);
  entries.sort((a, b) => a.tag - b.tag);
  for (const { tag, data } of entries) {
    writer.writeUVarint(tag).writeUVarint(data.length).writeBytes(data);
  }
}

/** The int8 before a nullable struct: -1 for null, 1 for present. Returns true for null. */
export function readNullMarker(reader: Reader): boolean {
  const marker = reader.readInt8();
  if (marker === -1) return true;
  if (marker === 1) return false;
  throw new ProtocolDecodeError(`bad nullable struct marker ${marker}`);
}
