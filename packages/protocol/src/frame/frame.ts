/**
 * Kafka's framing: every request and response is an int32 size followed by that many bytes, a
 * header, then the body. Which header version a message uses depends on the API and version:
 * request header v2 and response header v1 for flexible versions (v1/v0 otherwise), with two
 * exceptions Kafka keeps for old clients: ControlledShutdown v0 uses request header v0, and an
 * ApiVersions response always uses header v0 (a client that does not yet know the broker's
 * versions must be able to read it).
 */
import { ProtocolDecodeError } from '../errors/brook-error.ts';
import { API_TABLE, type ApiDescriptor, ApiKey } from '../generated/api-table.ts';
import {
  type RequestHeader,
  RequestHeader as RequestHeaderCodec,
  type ResponseHeader,
  ResponseHeader as ResponseHeaderCodec,
} from '../generated/schemas.ts';
import { Reader } from '../primitives/reader.ts';
import type { Writer } from '../primitives/writer.ts';

const API_BY_KEY: readonly (ApiDescriptor | undefined)[] = (() => {
  const byKey: (ApiDescriptor | undefined)[] = [];
  for (const api of API_TABLE) byKey[api.apiKey] = api;
  return byKey;
})();

/** The descriptor of an api key, or undefined for a key Kafka does not define. */
export function apiDescriptor(apiKey: number): ApiDescriptor | undefined {
  return API_BY_KEY[apiKey];
}

function isFlexible(api: ApiDescriptor, version: number): boolean {
  return api.firstFlexibleVersion !== undefined && version >= api.firstFlexibleVersion;
}

/** The request header version Kafka uses for `apiKey` at `version`. */
export function requestHeaderVersion(apiKey: number, version: number): number {
  const api = API_BY_KEY[apiKey];
  if (api === undefined) throw new ProtocolDecodeError(`unknown api key ${apiKey}`);
  if (isFlexible(api, version)) return 2;
  return apiKey === ApiKey.ControlledShutdown && version === 0 ? 0 : 1;
}

/** The response header version Kafka uses for `apiKey` at `version`. */
export function responseHeaderVersion(apiKey: number, version: number): number {
  const api = API_BY_KEY[apiKey];
  if (api === undefined) throw new ProtocolDecodeError(`unknown api key ${apiKey}`);
  if (apiKey === ApiKey.ApiVersions) return 0;
  return isFlexible(api, version) ? 1 : 0;
}

/** A request frame split into its header and a reader positioned at the body. */
export interface RequestFrame {
  readonly header: RequestHeader;
  readonly headerVersion: number;
  /** The API's descriptor; undefined for an api key Kafka does not define. */
  readonly api: ApiDescriptor | undefined;
  /** Positioned at the first byte of the body, bounded by the frame. */
  readonly body: Reader;
}

/**
 * Reads the header of a request frame (the bytes after the size prefix). An unknown api key or
 * version still yields the header (api key, version and correlation id are the same in every
 * header version), so a server can answer with UNSUPPORTED_VERSION instead of disconnecting.
 */
export function readRequestFrame(frame: Buffer): RequestFrame {
  const reader = new Reader(frame);
  if (frame.length < 8) {
    throw new ProtocolDecodeError(`request of ${frame.length} bytes is shorter than a header`);
  }
  const apiKey = frame.readInt16BE(0);
  const apiVersion = frame.readInt16BE(2);
  const api = API_BY_KEY[apiKey];
  const known = api !== undefined && apiVersion >= api.minVersion && apiVersion <= api.maxVersion;
  // For an unknown version, read the header as v1 (key, version, correlation id, client id):
  // the fields every version shares; the body is left unread.
  const headerVersion = known ? requestHeaderVersion(apiKey, apiVersion) : 1;
  const header = RequestHeaderCodec.decode(reader, headerVersion);
  return { header, headerVersion, api, body: reader };
}

/** Writes a request frame: size, header, body. `writeBody` writes the body to the writer. */
export function writeRequestFrame(
  writer: Writer,
  header: { apiKey: number; apiVersion: number; correlationId: number; clientId: string | null },
  writeBody: (writer: Writer) => void,
): void {
  const at = writer.reserve(4);
  RequestHeaderCodec.write(
    writer,
    {
      requestApiKey: header.apiKey,
      requestApiVersion: header.apiVersion,
      correlationId: header.correlationId,
      clientId: header.clientId,
    },
    requestHeaderVersion(header.apiKey, header.apiVersion),
  );
  writeBody(writer);
  writer.patchInt32(at, writer.length - at - 4);
}

/** Writes a response frame: size, header (chosen by api key and version), body. */
export function writeResponseFrame(
  writer: Writer,
  header: { apiKey: number; apiVersion: number; correlationId: number },
  writeBody: (writer: Writer) => void,
): void {
  const at = writer.reserve(4);
  ResponseHeaderCodec.write(
    writer,
    { correlationId: header.correlationId },
    responseHeaderVersion(header.apiKey, header.apiVersion),
  );
  writeBody(writer);
  writer.patchInt32(at, writer.length - at - 4);
}

/** Reads the header of a response frame (after the size prefix) for a known request. */
export function readResponseFrame(
  frame: Buffer,
  apiKey: number,
  apiVersion: number,
): { header: ResponseHeader; body: Reader } {
  const reader = new Reader(frame);
  const header = ResponseHeaderCodec.decode(reader, responseHeaderVersion(apiKey, apiVersion));
  return { header, body: reader };
}

/**
 * Splits size-prefixed frames out of a byte stream. Feed it chunks as they arrive; it returns
 * the complete frames and keeps the rest. A size below zero or above `maxFrameBytes` is an error
 * (the connection should be closed): it is checked before any allocation.
 */
export class FrameDecoder {
  private readonly maxFrameBytes: number;
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(options: { maxFrameBytes: number }) {
    this.maxFrameBytes = options.maxFrameBytes;
  }

  /** Bytes received but not yet returned as a frame. */
  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  push(chunk: Buffer): Buffer[] {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    const frames: Buffer[] = [];
    while (this.pendingBytes >= 4) {
      const head = this.peek(4);
      const size = head.readInt32BE(0);
      if (size < 0 || size > this.maxFrameBytes) {
        throw new ProtocolDecodeError(
          `frame of ${size} bytes is outside 0..${this.maxFrameBytes} (socket.request.max.bytes)`,
        );
      }
      if (this.pendingBytes < 4 + size) break;
      const all = this.take(4 + size);
      frames.push(all.subarray(4));
    }
    return frames;
  }

  private peek(count: number): Buffer {
    const first = this.pending[0]!;
    if (first.length >= count) return first;
    return Buffer.concat(this.pending, count);
  }

  private take(count: number): Buffer {
    const first = this.pending[0]!;
    if (first.length >= count) {
      if (first.length === count) this.pending.shift();
      else this.pending[0] = first.subarray(count);
      this.pendingBytes -= count;
      return first.subarray(0, count);
    }
    const joined = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = joined.length > count ? [joined.subarray(count)] : [];
    this.pendingBytes -= count;
    return joined.subarray(0, count);
  }
}

/**
 * Splits size-prefixed frames out of a byte stream without joining chunks: it hands out the
 * buffer the next read should fill (`net.Socket`'s `onread.buffer`), so a large frame is read
 * straight into a buffer of its own size and a small one is a view of a shared chunk. Every
 * frame it returns is a buffer nothing will write to again (a chunk is never reused once a frame
 * was cut from it), so a decoder may keep views of it.
 *
 * Small frames and the sizes of large ones arrive in a chunk of `chunkBytes`; once a frame's size
 * is known and the frame does not fit in the chunk, a buffer of that size is allocated, the bytes
 * already read are copied into it, and the reads that follow fill its rest. A size below zero or
 * above `maxFrameBytes` is an error (the connection should be closed), checked before any
 * allocation.
 */
/** A read into a chunk gets at least this much room (else the chunk is renewed first). */
const MIN_READ_BYTES = 4096;

export class FrameReader {
  private readonly maxFrameBytes: number;
  private readonly chunkBytes: number;
  private chunk: Buffer;
  /** Unconsumed bytes of `chunk` are `start` to `end`. */
  private start = 0;
  private end = 0;
  /** A frame too large for a chunk, filled in place up to `frameFilled`. */
  private frame: Buffer | null = null;
  private frameFilled = 0;
  /** Whether a frame returned views `chunk` (then it must not be written again). */
  private chunkShared = false;

  constructor(options: { maxFrameBytes: number; chunkBytes?: number }) {
    this.maxFrameBytes = options.maxFrameBytes;
    this.chunkBytes = options.chunkBytes ?? 64 * 1024;
    this.chunk = Buffer.allocUnsafe(this.chunkBytes);
  }

  /** Bytes received but not yet returned as a frame. */
  get bufferedBytes(): number {
    return this.frame === null ? this.end - this.start : 4 + this.frameFilled;
  }

  /** Where the next read should put its bytes (never past the end of the current frame). */
  nextBuffer(): Buffer {
    if (this.frame !== null) return this.frame.subarray(this.frameFilled);
    if (this.chunk.length - this.end < MIN_READ_BYTES) this.renewChunk();
    return this.chunk.subarray(this.end);
  }

  /** Records `count` bytes read into the last `nextBuffer()`; returns the frames completed. */
  filled(count: number): Buffer[] {
    if (this.frame !== null) {
      this.frameFilled += count;
      if (this.frameFilled < this.frame.length) return [];
      const frame = this.frame;
      this.frame = null;
      return [frame];
    }
    this.end += count;
    const frames: Buffer[] = [];
    while (this.end - this.start >= 4) {
      const size = this.chunk.readInt32BE(this.start);
      if (size < 0 || size > this.maxFrameBytes) {
        throw new ProtocolDecodeError(
          `frame of ${size} bytes is outside 0..${this.maxFrameBytes} (socket.request.max.bytes)`,
        );
      }
      const available = this.end - this.start - 4;
      if (available >= size) {
        frames.push(this.chunk.subarray(this.start + 4, this.start + 4 + size));
        this.chunkShared = true;
        this.start += 4 + size;
        continue;
      }
      if (this.start + 4 + size > this.chunk.length) {
        if (size > this.chunkBytes / 2) {
          // Too large for a chunk: the rest of it is read into a buffer of its own.
          this.frame = Buffer.allocUnsafe(size);
          this.chunk.copy(this.frame, 0, this.start + 4, this.end);
          this.frameFilled = available;
          this.start = this.end;
        } else {
          this.renewChunk();
        }
      }
      break;
    }
    return frames;
  }

  /**
   * Moves the unconsumed bytes to the front of a chunk: a fresh one if frames view the current
   * one, else the current one.
   */
  private renewChunk(): void {
    if (this.chunkShared) {
      const next = Buffer.allocUnsafe(this.chunkBytes);
      this.end = this.chunk.copy(next, 0, this.start, this.end);
      this.chunk = next;
      this.chunkShared = false;
    } else {
      this.chunk.copyWithin(0, this.start, this.end);
      this.end -= this.start;
    }
    this.start = 0;
  }
}
