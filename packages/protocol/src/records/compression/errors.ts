import { ProtocolDecodeError, ProtocolEncodeError } from '../../errors/brook-error.ts';

/** What every decompressor takes: the most bytes it may produce before giving up. */
export interface DecompressOptions {
  /** Output larger than this is refused with a ProtocolDecodeError (a zip bomb guard). */
  maxOutputBytes: number;
}

/** Wraps what a codec library threw into the error Brook's decoders promise. */
export function decompressFailure(codec: string, error: unknown, maxOutputBytes: number): never {
  if (error instanceof ProtocolDecodeError) throw error;
  if ((error as { code?: unknown } | null)?.code === 'ERR_BUFFER_TOO_LARGE') {
    throw tooLarge(codec, maxOutputBytes);
  }
  const reason = error instanceof Error ? error.message : String(error);
  throw new ProtocolDecodeError(`${codec} data cannot be decompressed: ${reason}`, {
    cause: error,
  });
}

export function compressFailure(codec: string, error: unknown): never {
  const reason = error instanceof Error ? error.message : String(error);
  throw new ProtocolEncodeError(`${codec} compression failed: ${reason}`, { cause: error });
}

export function tooLarge(codec: string, maxOutputBytes: number): ProtocolDecodeError {
  return new ProtocolDecodeError(
    `${codec} data decompresses to more than the ${maxOutputBytes} bytes allowed`,
  );
}

/** A Buffer over the same memory as `bytes` (no copy), for libraries typed to take Buffers. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

/** The limit that zlib's `maxOutputLength` accepts (at least 1). */
export function zlibLimit(maxOutputBytes: number): number {
  return Math.max(1, Math.min(maxOutputBytes, Number.MAX_SAFE_INTEGER));
}
