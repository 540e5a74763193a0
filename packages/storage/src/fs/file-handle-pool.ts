import type { FileHandle, FileSystem } from './file-system.ts';

interface PoolEntry {
  readonly opening: Promise<FileHandle>;
  users: number;
}

/**
 * Bounds the number of open files across every log of a broker: files are opened on first use
 * and the least recently used idle ones are closed when more than `maxOpenFiles` are open, so
 * 10,000 partitions do not need 30,000 file descriptors. A file in use (an operation in flight)
 * is never closed under its user.
 */
export class FileHandlePool {
  readonly fs: FileSystem;
  private readonly maxOpenFiles: number;
  /** In least-recently-used order: the first entry is the coldest. */
  private readonly entries = new Map<string, PoolEntry>();
  private opens = 0;

  constructor(fs: FileSystem, options: { maxOpenFiles: number }) {
    this.fs = fs;
    this.maxOpenFiles = Math.max(1, options.maxOpenFiles);
  }

  /** Files currently open. */
  get openFiles(): number {
    return this.entries.size;
  }

  /** How many times a file was opened (a measure of LRU churn). */
  get totalOpens(): number {
    return this.opens;
  }

  /** Runs `operation` with the file open (created when missing if `create`). */
  async use<T>(
    path: string,
    operation: (handle: FileHandle) => Promise<T>,
    options: { create: boolean } = { create: false },
  ): Promise<T> {
    let entry = this.entries.get(path);
    if (entry === undefined) {
      this.opens++;
      const opening = this.fs.open(path, options);
      entry = { opening, users: 0 };
      this.entries.set(path, entry);
      opening.catch(() => {
        if (this.entries.get(path) === entry) this.entries.delete(path);
      });
    } else {
      // Refresh its place in the LRU order.
      this.entries.delete(path);
      this.entries.set(path, entry);
    }
    entry.users++;
    try {
      const handle = await entry.opening;
      return await operation(handle);
    } finally {
      entry.users--;
      this.evict();
    }
  }

  private evict(): void {
    if (this.entries.size <= this.maxOpenFiles) return;
    for (const [path, entry] of this.entries) {
      if (this.entries.size <= this.maxOpenFiles) break;
      if (entry.users > 0) continue;
      this.entries.delete(path);
      void closeQuietly(entry.opening);
    }
  }

  /** Closes a file (before it is renamed or deleted); waits for nothing in flight. */
  async close(path: string): Promise<void> {
    const entry = this.entries.get(path);
    if (entry === undefined) return;
    this.entries.delete(path);
    await closeQuietly(entry.opening);
  }

  async closeAll(): Promise<void> {
    const all = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(all.map((entry) => closeQuietly(entry.opening)));
  }
}

async function closeQuietly(opening: Promise<FileHandle>): Promise<void> {
  try {
    await (await opening).close();
  } catch {
    // Closing is best effort: the file failed to open, or was closed by a crash.
  }
}
