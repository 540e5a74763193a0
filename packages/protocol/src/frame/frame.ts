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
