/**
 * `FileSystem` over node:fs/promises: the real disk. Errors are Node's own (`code` 'ENOENT', ...).
 */

import { constants, writeSync, writevSync } from 'node:fs';
import {
  access,
  mkdir,
  type FileHandle as NodeFileHandle,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  unlink,
} from 'node:fs/promises';
import { dirname } from 'node:path';
import type { FileHandle, FileSystem } from './file-system.ts';
import { errorCode, FileSystemError } from './file-system-error.ts';

/** Read-write, created when missing, never truncated, no O_APPEND (writes go where they say). */
const OPEN_OR_CREATE_FLAGS = constants.O_RDWR | constants.O_CREAT;
const OPEN_EXISTING_FLAGS = 'r+';
const NEW_FILE_MODE = 0o666;
/** Writes up to this size go straight to the page cache, synchronously (see `write`). */
const SYNC_WRITE_MAX_BYTES = 1024 * 1024;

export class NodeFileSystem implements FileSystem {
  async open(path: string, options: { create: boolean }): Promise<FileHandle> {
    const handle = options.create
      ? await open(path, OPEN_OR_CREATE_FLAGS, NEW_FILE_MODE)
      : await open(path, OPEN_EXISTING_FLAGS);
    return new NodeFileSystemHandle(handle);
  }

  readFile(path: string): Promise<Buffer> {
    return readFile(path);
  }

  /** `<path>.tmp` written and synced, renamed over `path`, then the directory synced. */
  async writeFileAtomic(path: string, data: Buffer): Promise<void> {
    const temporaryPath = `${path}.tmp`;
    const handle = await open(temporaryPath, 'w', NEW_FILE_MODE);
    try {
      await writeAll(handle, [data], 0);
      await handle.datasync();
    } catch (error) {
      await handle.close().catch(() => {});
      await unlink(temporaryPath).catch(() => {});
      throw error;
    }
    await handle.close();
    try {
      await rename(temporaryPath, path);
    } catch (error) {
      await unlink(temporaryPath).catch(() => {});
      throw error;
    }
    await this.syncDirectory(dirname(path));
  }

  rename(from: string, to: string): Promise<void> {
    return rename(from, to);
  }

  unlink(path: string): Promise<void> {
    return unlink(path);
  }

  async mkdir(path: string): Promise<void> {
    await mkdir(path, { recursive: true });
  }

  async removeDirectory(path: string): Promise<void> {
    let isDirectory: boolean;
    try {
      isDirectory = (await stat(path)).isDirectory();
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return;
      throw error;
    }
    if (!isDirectory) throw new FileSystemError('ENOTDIR', 'rmdir', path);
    await rm(path, { recursive: true, force: true });
  }

  readdir(path: string): Promise<string[]> {
    return readdir(path);
  }

  async exists(path: string): Promise<boolean> {
    try {
      await access(path, constants.F_OK);
      return true;
    } catch (error) {
      const code = errorCode(error);
      if (code === 'ENOENT' || code === 'ENOTDIR') return false;
      throw error;
    }
  }

  /**
   * Opens the directory read-only and fsyncs it. Where the platform cannot (Windows refuses to
   * open or fsync a directory; some file systems answer EINVAL to a directory fsync) that one
   * failure is ignored; anything else, a missing directory included, is thrown.
   */
  async syncDirectory(path: string): Promise<void> {
    let handle: NodeFileHandle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      if (isWindows() && isWindowsDirectoryRefusal(error)) return;
      throw error;
    }
    try {
      if (!(await handle.stat()).isDirectory()) {
        throw new FileSystemError('ENOTDIR', 'fsync', path);
      }
      try {
        await handle.sync();
      } catch (error) {
        const unsupported =
          isDirectorySyncUnsupported(error) || (isWindows() && isWindowsDirectoryRefusal(error));
        if (!unsupported) throw error;
      }
    } finally {
      await handle.close();
    }
  }
}

class NodeFileSystemHandle implements FileHandle {
  readonly #handle: NodeFileHandle;

  constructor(handle: NodeFileHandle) {
    this.#handle = handle;
  }

  async read(buffer: Buffer, offset: number, length: number, position: number): Promise<number> {
    const { bytesRead } = await this.#handle.read(buffer, offset, length, position);
    return bytesRead;
  }

  /**
   * Writes up to SYNC_WRITE_MAX_BYTES synchronously: a page-cache write of a batch takes
   * 8–14 µs, while a round trip through libuv's thread pool takes 20–130 µs (measured in
   * bench/storage-append.bench.ts), which held appends well below the disk's rate. Larger writes,
   * reads and fsyncs stay asynchronous, so the event loop is never held for long.
   */
  write(chunks: readonly Buffer[], position: number): Promise<void> {
    let total = 0;
    for (const chunk of chunks) total += chunk.length;
    if (total > SYNC_WRITE_MAX_BYTES) return writeAll(this.#handle, chunks, position);
    const fd = this.#handle.fd;
    if (fd < 0)
      return Promise.reject(new FileSystemError('EBADF', 'write', '', 'file handle is closed'));
    return writeAll(
      {
        write: async (buffer, offset, length, at) => ({
          bytesWritten: writeSync(fd, buffer, offset, length, at),
        }),
        writev: async (buffers, at) => ({ bytesWritten: writevSync(fd, buffers, at) }),
      },
      chunks,
      position,
    );
  }

  sync(): Promise<void> {
    return this.#handle.datasync();
  }

  truncate(length: number): Promise<void> {
    return this.#handle.truncate(length);
  }

  async size(): Promise<number> {
    return (await this.#handle.stat()).size;
  }

  close(): Promise<void> {
    return this.#handle.close();
  }
}

/** The two calls of a Node `FileHandle` that `writeAll` needs (a fake one in tests). */
export interface PositionalWriter {
  write(
    buffer: Buffer,
    offset: number,
    length: number,
    position: number,
  ): Promise<{ bytesWritten: number }>;
  writev(buffers: Buffer[], position: number): Promise<{ bytesWritten: number }>;
}

/**
 * Writes every byte of `chunks` at `position`: one `writev` for several chunks (one `write` for a
 * single chunk), repeated on the rest after a short write.
 */
export async function writeAll(
  target: PositionalWriter,
  chunks: readonly Buffer[],
  position: number,
): Promise<void> {
  let rest = chunks.filter((chunk) => chunk.length > 0);
  while (rest.length > 0) {
    const first = rest[0]!;
    const { bytesWritten } =
      rest.length === 1
        ? await target.write(first, 0, first.length, position)
        : await target.writev(rest, position);
    if (bytesWritten <= 0) {
      throw new FileSystemError('EIO', 'write', '', 'write made no progress');
    }
    position += bytesWritten;
    rest = dropBytes(rest, bytesWritten);
  }
}

/** The chunks after the first `count` bytes (slices share memory with the input). */
function dropBytes(chunks: Buffer[], count: number): Buffer[] {
  let index = 0;
  while (index < chunks.length && count >= chunks[index]!.length) {
    count -= chunks[index]!.length;
    index += 1;
  }
  const rest = chunks.slice(index);
  if (count > 0 && rest.length > 0) rest[0] = rest[0]!.subarray(count);
  return rest;
}

function isWindows(): boolean {
  return process.platform === 'win32';
}

/** Windows cannot open a directory as a file nor flush it. */
function isWindowsDirectoryRefusal(error: unknown): boolean {
  const code = errorCode(error);
  return code === 'EISDIR' || code === 'EPERM' || code === 'EACCES';
}

/** File systems that do not support fsync on a directory answer EINVAL (or EBADF). */
function isDirectorySyncUnsupported(error: unknown): boolean {
  const code = errorCode(error);
  return code === 'EINVAL' || code === 'EBADF';
}
