/**
 * The only way storage reaches the disk. Two implementations: `NodeFileSystem` (the real disk,
 * node:fs) and `MemoryFileSystem` (an in-memory twin that models what survives a crash and can
 * inject faults: failed writes and fsyncs, torn writes).
 *
 * Durability model, which both implementations honour and the log relies on:
 * - Bytes written to a file are durable only after `FileHandle.sync()` resolves for that file.
 *   A crash may keep any prefix of the unsynced bytes of each write (a torn write), or none.
 * - Creating, renaming and deleting a file are durable after `syncDirectory()` of its directory.
 *   `writeFileAtomic` does the whole dance (temp file, sync, rename, directory sync), so a crash
 *   leaves either the old content or the new, never a mix.
 * - A failed `sync()` means nothing about the unsynced bytes: they may or may not be on disk,
 *   and a later successful `sync()` does not make them durable either (Linux drops the dirty
 *   pages after a write-back error). The caller must not report them durable: treat the file
 *   as failed and recover it from what is known to be durable.
 * - A failed `write()` may have written part of its bytes.
 * - A rename across directories is durable once both directories are synced.
 */

export interface FileHandle {
  /** Reads up to `length` bytes at file `position` into `buffer` at `offset`; returns the count. */
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<number>;
  /** Writes every byte of `chunks`, in order, starting at file `position`. */
  write(chunks: readonly Buffer[], position: number): Promise<void>;
  /** Makes the bytes written so far durable (fdatasync). */
  sync(): Promise<void>;
  /** Cuts the file to `length` bytes (or extends it with zeros). */
  truncate(length: number): Promise<void>;
  size(): Promise<number>;
  close(): Promise<void>;
}

export interface FileSystem {
  /** Opens a file for reading and writing; creates it when `create` is set and it is missing. */
  open(path: string, options: { create: boolean }): Promise<FileHandle>;
  readFile(path: string): Promise<Buffer>;
  /** Replaces a file's content so that a crash leaves the old or the new content, whole. */
  writeFileAtomic(path: string, data: Buffer): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** Creates a directory and its parents; no error if it exists. */
  mkdir(path: string): Promise<void>;
  /** Removes a directory and everything under it; no error if it is missing. */
  removeDirectory(path: string): Promise<void>;
  /** The names (not paths) of the entries of a directory. */
  readdir(path: string): Promise<string[]>;
  exists(path: string): Promise<boolean>;
  /** Makes creations, renames and deletions in a directory durable. */
  syncDirectory(path: string): Promise<void>;
}

/**
 * Creates a directory and any missing parents durably: each new directory's entry is synced in
 * its parent, so a crash cannot lose a directory that was reported created.
 */
export async function mkdirDurable(fs: FileSystem, path: string): Promise<void> {
  const missing: string[] = [];
  for (let current = path; !(await fs.exists(current)); ) {
    missing.push(current);
    const parent = current.slice(0, Math.max(current.lastIndexOf('/'), 0)) || '/';
    if (parent === current) break;
    current = parent;
  }
  if (missing.length === 0) return;
  await fs.mkdir(path);
  for (const created of missing.reverse()) {
    const parent = created.slice(0, Math.max(created.lastIndexOf('/'), 0)) || '/';
    await fs.syncDirectory(parent);
  }
}
