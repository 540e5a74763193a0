/**
 * The native addons behind CRC-32C and compression (`@node-rs/crc32`, `snappy`, `lz4-napi`)
 * load on first use, not on import: each costs 2 to 6 MB of memory and a few milliseconds (its
 * shared library, napi-rs's loader and its JavaScript), which a broker that never sees a
 * snappy or lz4 batch, or a tool that only frames requests, should not pay. A missing or
 * broken addon therefore surfaces as a plain error where it is first needed.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** A function that returns the package `name`, loading it on its first call. */
export function loadOnFirstUse<T>(name: string): () => T {
  let loaded: T | undefined;
  return () => {
    loaded ??= require(name) as T;
    return loaded;
  };
}
