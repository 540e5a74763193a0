/**
 * `MemoryFileSystem`: the in-memory twin of `NodeFileSystem` for tests and crash tests. It models
 * the durability contract of `file-system.ts` exactly, simulates power loss (`crash`) and injects
 * faults.
 *
 * The model:
 * - A file (an inode) holds its current bytes (what reads see), its durable bytes (what a crash
 *   keeps) and the writes and truncations made since its last sync, in order. `sync()` applies
 *   them to the durable bytes.
 * - A directory holds its current entries and its durable entries (name → node, as of its last
 *   `syncDirectory`). Creating, renaming and deleting change only the current entries. A node
 *   stays alive while an entry (current or durable) or an open handle refers to it, so a file
 *   unlinked but not yet durably unlinked comes back after a crash, like on a real disk.
 * - `crash()` is power loss: every directory reverts to its durable entries, walking from '/', and
 *   every file to its durable bytes. With `tornWrites`, each file's unsynced operations are
 *   replayed in order, each kept whole, lost, or (a write) cut to a random prefix; the first one
 *   not kept whole is the last applied. Open handles become invalid (EBADF).
 * - A failed `sync()` (`failNextSync`) drops the file's unsynced operations from the durable path:
 *   reads still see them, but no later sync makes them durable (as Linux marks the pages clean
 *   after a writeback error), so they vanish at the next crash unless written again.
 *
 * Paths follow node:path posix rules, relative ones resolved against '/'. Errors are Node-like
 * (`FileSystemError` with `code` 'ENOENT', 'EEXIST', 'ENOTDIR', 'EISDIR', 'ENOTEMPTY', 'EIO',
 * 'ENOSPC', 'EBADF', ...). Fault patterns: a string matches one path exactly (normalized), a
 * RegExp is tested against the normalized path; no pattern matches every path.
 */

import { posix } from 'node:path';
import type { FileHandle, FileSystem } from './file-system.ts';
import { errorCode, FileSystemError } from './file-system-error.ts';

export type PathPattern = string | RegExp;

export interface CrashOptions {
  /** Source of randomness in [0, 1) for torn writes (default Math.random); see `seededRandom`. */
  random?: () => number;
  /** Lets each unsynced write survive whole, as a prefix or not at all (default: none survive). */
  tornWrites?: boolean;
}

export interface MemoryFileSystemStats {
  /** `FileHandle.sync()` calls (the one inside `writeFileAtomic` included), failed ones too. */
  syncCount: number;
  /** `syncDirectory()` calls (the one inside `writeFileAtomic` included), failed ones too. */
  directorySyncCount: number;
  /** `FileHandle.write()` calls. */
  writeCount: number;
  /** Bytes written into files (partial writes count what they wrote). */
  writtenBytes: number;
}

export class MemoryFileSystem implements FileSystem {
  readonly #disk = new Disk();

  /** Simulates power loss; see the model in this file's header. */
  crash(options: CrashOptions = {}): void {
    this.#disk.crash(options.tornWrites === true ? (options.random ?? Math.random) : undefined);
  }

  /**
   * The next sync (of a file or a directory) of a matching path rejects with 'EIO'. Nothing becomes
   * durable, and a file's unsynced writes never will (see the header).
   */
  failNextSync(pathPattern?: PathPattern): void {
    this.#disk.arm({ kind: 'sync', pattern: pathPattern, partialBytes: 0 });
  }

  /** The next write to a matching file stores only `partialBytes` (default 0), fails with EIO. */
  failNextWrite(pathPattern?: PathPattern, options: { partialBytes?: number } = {}): void {
    this.#disk.arm({
      kind: 'write',
      pattern: pathPattern,
      partialBytes: options.partialBytes ?? 0,
    });
  }

  /** The next rename whose source or target matches rejects with 'EIO' and changes nothing. */
  failNextRename(pathPattern?: PathPattern): void {
    this.#disk.arm({ kind: 'rename', pattern: pathPattern, partialBytes: 0 });
  }

  /**
   * Caps the total size of all files at `capacityBytes`: a write that would go beyond writes what
   * fits and rejects with 'ENOSPC'. `Infinity` (the default) lifts the cap. Extending a file with
   * `truncate` is not refused (sparse), but the size counts.
   */
  diskFullAfterBytes(capacityBytes: number): void {
    this.#disk.capacityBytes = capacityBytes;
  }

  /** A copy of the counters since creation or the last `resetStats`. */
  get stats(): MemoryFileSystemStats {
    return { ...this.#disk.stats };
  }

  resetStats(): void {
    this.#disk.stats = emptyStats();
  }

  async open(path: string, options: { create: boolean }): Promise<FileHandle> {
    const disk = this.#disk;
    const { normalized, parent, name, node } = disk.locate(path, 'open');
    if (node?.kind === 'directory') throw new FileSystemError('EISDIR', 'open', normalized);
    let file = node;
    if (file === undefined) {
      if (!options.create || parent === undefined) {
        throw new FileSystemError('ENOENT', 'open', normalized);
      }
      file = newFile();
      parent.entries.set(name, file);
    }
    return new MemoryFileHandle(disk, file, normalized);
  }

  async readFile(path: string): Promise<Buffer> {
    const { normalized, node } = this.#disk.locate(path, 'open');
    if (node === undefined) throw new FileSystemError('ENOENT', 'open', normalized);
    if (node.kind === 'directory') throw new FileSystemError('EISDIR', 'read', normalized);
    return Buffer.from(node.current.view());
  }

  /** `<path>.tmp` written and synced, renamed over `path`, then the directory synced. */
  async writeFileAtomic(path: string, data: Buffer): Promise<void> {
    const disk = this.#disk;
    const generation = disk.generation;
    const target = normalize(path);
    const temporaryPath = `${target}.tmp`;
    const handle = await this.open(temporaryPath, { create: true });
    try {
      await handle.truncate(0);
      await handle.write([data], 0);
      await handle.sync();
    } catch (error) {
      await handle.close().catch(() => {});
      if (disk.generation === generation) await this.unlink(temporaryPath).catch(() => {});
      throw error;
    }
    await handle.close();
    disk.assertNoCrashSince(generation, 'rename', target);
    try {
      await this.rename(temporaryPath, target);
    } catch (error) {
      if (disk.generation === generation) await this.unlink(temporaryPath).catch(() => {});
      throw error;
    }
    disk.assertNoCrashSince(generation, 'fsync', target);
    await this.syncDirectory(posix.dirname(target));
  }

  async rename(from: string, to: string): Promise<void> {
    const disk = this.#disk;
    const source = disk.locate(from, 'rename');
    const target = disk.locate(to, 'rename');
    const node = source.node;
    if (node === undefined || source.parent === undefined) {
      const code = node === undefined ? 'ENOENT' : 'EBUSY';
      throw new FileSystemError(code, 'rename', source.normalized);
    }
    if (target.parent === undefined)
      throw new FileSystemError('EBUSY', 'rename', target.normalized);
    if (disk.takeFault('rename', source.normalized, target.normalized) !== undefined) {
      throw new FileSystemError('EIO', 'rename', source.normalized, 'injected rename failure');
    }
    if (node === target.node) return;
    const replaced = target.node;
    if (node.kind === 'directory') {
      if (target.normalized.startsWith(`${source.normalized}/`)) {
        throw new FileSystemError('EINVAL', 'rename', source.normalized);
      }
      if (replaced?.kind === 'file')
        throw new FileSystemError('ENOTDIR', 'rename', target.normalized);
      if (replaced !== undefined && replaced.entries.size > 0) {
        throw new FileSystemError('ENOTEMPTY', 'rename', target.normalized);
      }
    } else if (replaced?.kind === 'directory') {
      throw new FileSystemError('EISDIR', 'rename', target.normalized);
    }
    source.parent.entries.delete(source.name);
    target.parent.entries.set(target.name, node);
  }

  async unlink(path: string): Promise<void> {
    const { normalized, parent, name, node } = this.#disk.locate(path, 'unlink');
    if (node === undefined) throw new FileSystemError('ENOENT', 'unlink', normalized);
    if (node.kind === 'directory' || parent === undefined) {
      throw new FileSystemError('EISDIR', 'unlink', normalized);
    }
    parent.entries.delete(name);
  }

  async mkdir(path: string): Promise<void> {
    const normalized = normalize(path);
    const names = segments(normalized);
    let directory = this.#disk.root;
    for (const [index, name] of names.entries()) {
      const child = directory.entries.get(name);
      if (child?.kind === 'file') {
        const code = index === names.length - 1 ? 'EEXIST' : 'ENOTDIR';
        throw new FileSystemError(code, 'mkdir', normalized);
      }
      if (child === undefined) {
        const created = newDirectory();
        directory.entries.set(name, created);
        directory = created;
      } else {
        directory = child;
      }
    }
  }

  async removeDirectory(path: string): Promise<void> {
    let location: Location;
    try {
      location = this.#disk.locate(path, 'rmdir');
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return;
      throw error;
    }
    const { normalized, parent, name, node } = location;
    if (node === undefined) return;
    if (node.kind === 'file') throw new FileSystemError('ENOTDIR', 'rmdir', normalized);
    if (parent === undefined) throw new FileSystemError('EBUSY', 'rmdir', normalized);
    parent.entries.delete(name);
  }

  /** Entry names, sorted (the real disk gives no order). */
  async readdir(path: string): Promise<string[]> {
    const { normalized, node } = this.#disk.locate(path, 'scandir');
    if (node === undefined) throw new FileSystemError('ENOENT', 'scandir', normalized);
    if (node.kind === 'file') throw new FileSystemError('ENOTDIR', 'scandir', normalized);
    return [...node.entries.keys()].sort();
  }

  async exists(path: string): Promise<boolean> {
    try {
      return this.#disk.locate(path, 'access').node !== undefined;
    } catch (error) {
      const code = errorCode(error);
      if (code === 'ENOENT' || code === 'ENOTDIR') return false;
      throw error;
    }
  }

  async syncDirectory(path: string): Promise<void> {
    const disk = this.#disk;
    disk.stats.directorySyncCount += 1;
    const { normalized, node } = disk.locate(path, 'open');
    if (node === undefined) throw new FileSystemError('ENOENT', 'open', normalized);
    if (node.kind === 'file') throw new FileSystemError('ENOTDIR', 'fsync', normalized);
    if (disk.takeFault('sync', normalized) !== undefined) {
      throw new FileSystemError('EIO', 'fsync', normalized, 'injected fsync failure');
    }
    node.durableEntries = new Map(node.entries);
  }
}

/**
 * A deterministic source of numbers in [0, 1) for `crash({ random })`, so a crash test replays
 * exactly from its seed. (A counter through the murmur3 32-bit finalizer: nearby seeds give
 * unrelated sequences.)
 */
export function seededRandom(seed: number): () => number {
  let counter = seed | 0;
  return () => {
    counter = (counter + 0x9e3779b9) | 0;
    let mixed = Math.imul(counter ^ (counter >>> 16), 0x85ebca6b);
    mixed = Math.imul(mixed ^ (mixed >>> 13), 0xc2b2ae35);
    mixed ^= mixed >>> 16;
    return (mixed >>> 0) / 0x1_0000_0000;
  };
}

class MemoryFileHandle implements FileHandle {
  readonly #disk: Disk;
  readonly #file: FileNode;
  readonly #path: string;
  readonly #generation: number;
  #closed = false;

  constructor(disk: Disk, file: FileNode, path: string) {
    this.#disk = disk;
    this.#file = file;
    this.#path = path;
    this.#generation = disk.generation;
    disk.openHandles.add(this);
  }

  /** The file this handle writes to (for the disk's space accounting). */
  get file(): FileNode {
    return this.#file;
  }

  async read(buffer: Buffer, offset: number, length: number, position: number): Promise<number> {
    this.#assertUsable('read');
    checkRange(offset, 'offset');
    checkRange(length, 'length');
    checkRange(position, 'position');
    if (offset + length > buffer.length) {
      throw new RangeError(
        `offset + length (${offset + length}) exceeds the buffer (${buffer.length})`,
      );
    }
    const bytes = this.#file.current;
    if (position >= bytes.length) return 0;
    const count = Math.min(length, bytes.length - position);
    bytes.view().copy(buffer, offset, position, position + count);
    return count;
  }

  async write(chunks: readonly Buffer[], position: number): Promise<void> {
    this.#assertUsable('write');
    checkRange(position, 'position');
    const disk = this.#disk;
    disk.stats.writeCount += 1;
    const data = Buffer.concat(chunks);
    let keptBytes = data.length;
    let failure: FileSystemError | undefined;
    const fault = disk.takeFault('write', this.#path);
    if (fault !== undefined) {
      keptBytes = Math.max(0, Math.min(fault.partialBytes, data.length));
      failure = new FileSystemError('EIO', 'write', this.#path, 'injected write failure');
    }
    const roomBytes = disk.roomBytes(this.#file, position);
    if (roomBytes < keptBytes) {
      keptBytes = roomBytes;
      failure = new FileSystemError('ENOSPC', 'write', this.#path);
    }
    if (keptBytes > 0) {
      const kept = keptBytes === data.length ? data : Buffer.from(data.subarray(0, keptBytes));
      this.#file.current.write(position, kept);
      this.#file.pending.push({ kind: 'write', position, data: kept });
      disk.stats.writtenBytes += keptBytes;
    }
    if (failure !== undefined) throw failure;
  }

  async sync(): Promise<void> {
    this.#assertUsable('fsync');
    const disk = this.#disk;
    disk.stats.syncCount += 1;
    const file = this.#file;
    if (disk.takeFault('sync', this.#path) !== undefined) {
      file.pending = [];
      throw new FileSystemError('EIO', 'fsync', this.#path, 'injected fsync failure');
    }
    for (const operation of file.pending) apply(file.durable, operation);
    file.pending = [];
  }

  async truncate(length: number): Promise<void> {
    this.#assertUsable('ftruncate');
    checkRange(length, 'length');
    this.#file.current.truncate(length);
    this.#file.pending.push({ kind: 'truncate', length });
  }

  async size(): Promise<number> {
    this.#assertUsable('fstat');
    return this.#file.current.length;
  }

  async close(): Promise<void> {
    if (this.#generation !== this.#disk.generation) this.#assertUsable('close');
    this.#closed = true;
    this.#disk.openHandles.delete(this);
  }

  #assertUsable(syscall: string): void {
    if (this.#generation !== this.#disk.generation) {
      throw new FileSystemError(
        'EBADF',
        syscall,
        this.#path,
        'file handle lost in a simulated crash',
      );
    }
    if (this.#closed) throw new FileSystemError('EBADF', syscall, this.#path, 'file closed');
  }
}

type Operation =
  | { kind: 'write'; position: number; data: Buffer }
  | { kind: 'truncate'; length: number };

interface FileNode {
  kind: 'file';
  /** What reads see. */
  current: Bytes;
  /** What survives a crash. */
  durable: Bytes;
  /** Operations since the last sync that the next successful sync makes durable. */
  pending: Operation[];
}

interface DirectoryNode {
  kind: 'directory';
  entries: Map<string, Node>;
  /** The entries as of the last `syncDirectory`: what survives a crash. */
  durableEntries: Map<string, Node>;
}

type Node = FileNode | DirectoryNode;

interface Fault {
  kind: 'sync' | 'write' | 'rename';
  pattern: PathPattern | undefined;
  partialBytes: number;
}

interface Location {
  normalized: string;
  /** Undefined for the root. */
  parent: DirectoryNode | undefined;
  name: string;
  node: Node | undefined;
}

/** The state behind a `MemoryFileSystem` and its handles. */
class Disk {
  root: DirectoryNode = newDirectory();
  /** Bumped by each crash; handles from an earlier generation are dead. */
  generation = 0;
  capacityBytes = Number.POSITIVE_INFINITY;
  stats: MemoryFileSystemStats = emptyStats();
  readonly openHandles = new Set<MemoryFileHandle>();
  readonly #faults: Fault[] = [];

  arm(fault: Fault): void {
    this.#faults.push(fault);
  }

  /** Removes and returns the first armed fault of `kind` matching one of `paths`. */
  takeFault(kind: Fault['kind'], ...paths: string[]): Fault | undefined {
    const index = this.#faults.findIndex(
      (fault) => fault.kind === kind && paths.some((path) => matches(fault.pattern, path)),
    );
    if (index < 0) return undefined;
    return this.#faults.splice(index, 1)[0];
  }

  /** Walks to `path`'s parent: ENOENT when a parent is missing, ENOTDIR when one is a file. */
  locate(path: string, syscall: string): Location {
    const normalized = normalize(path);
    const names = segments(normalized);
    const name = names.pop();
    if (name === undefined) return { normalized, parent: undefined, name: '', node: this.root };
    let parent = this.root;
    for (const component of names) {
      const child = parent.entries.get(component);
      if (child === undefined) throw new FileSystemError('ENOENT', syscall, normalized);
      if (child.kind === 'file') throw new FileSystemError('ENOTDIR', syscall, normalized);
      parent = child;
    }
    return { normalized, parent, name, node: parent.entries.get(name) };
  }

  /** How many bytes a write at `position` into `file` may store before the disk is full. */
  roomBytes(file: FileNode, position: number): number {
    if (this.capacityBytes === Number.POSITIVE_INFINITY) return Number.POSITIVE_INFINITY;
    const freeBytes = this.capacityBytes - this.usedBytes();
    return Math.max(0, file.current.length + freeBytes - position);
  }

  /** The total current size of the files reachable from '/' or held open. */
  usedBytes(): number {
    const files = new Set<FileNode>();
    const visit = (directory: DirectoryNode): void => {
      for (const child of directory.entries.values()) {
        if (child.kind === 'file') files.add(child);
        else visit(child);
      }
    };
    visit(this.root);
    for (const handle of this.openHandles) files.add(handle.file);
    let total = 0;
    for (const file of files) total += file.current.length;
    return total;
  }

  crash(random: (() => number) | undefined): void {
    this.generation += 1;
    this.openHandles.clear();
    const visited = new Set<Node>([this.root]);
    const restore = (directory: DirectoryNode): void => {
      directory.entries = new Map(directory.durableEntries);
      for (const [name, child] of directory.entries) {
        if (visited.has(child)) {
          // A second name for a node. Fine for a file (a hard link), but a directory reached twice
          // would make a cycle or a shared subtree: keep only the first name.
          if (child.kind === 'directory') {
            directory.entries.delete(name);
            directory.durableEntries.delete(name);
          }
          continue;
        }
        visited.add(child);
        if (child.kind === 'directory') restore(child);
        else restoreFile(child, random);
      }
    };
    restore(this.root);
  }

  assertNoCrashSince(generation: number, syscall: string, path: string): void {
    if (this.generation !== generation) {
      throw new FileSystemError('EIO', syscall, path, 'interrupted by a simulated crash');
    }
  }
}

/**
 * Reverts a file to its durable bytes, then, with `random`, replays its unsynced operations in
 * order: each is kept whole, lost, or (a write of 2 bytes or more) kept as a prefix of 1 to
 * length - 1 bytes, a third of the time each. Replay stops at the first not kept whole.
 */
function restoreFile(file: FileNode, random: (() => number) | undefined): void {
  const bytes = file.durable.clone();
  if (random !== undefined) {
    for (const operation of file.pending) {
      const outcome = random();
      if (outcome < 1 / 3) {
        apply(bytes, operation);
        continue;
      }
      if (outcome >= 2 / 3 && operation.kind === 'write' && operation.data.length >= 2) {
        const keptBytes = 1 + Math.floor(random() * (operation.data.length - 1));
        bytes.write(operation.position, operation.data.subarray(0, keptBytes));
      }
      break;
    }
  }
  file.current = bytes;
  file.durable = bytes.clone();
  file.pending = [];
}

function apply(bytes: Bytes, operation: Operation): void {
  if (operation.kind === 'write') bytes.write(operation.position, operation.data);
  else bytes.truncate(operation.length);
}

/** A growable byte array; bytes past `length` are always zero. */
class Bytes {
  #buffer: Buffer;
  #length: number;

  constructor(buffer: Buffer = Buffer.alloc(0), length = buffer.length) {
    this.#buffer = buffer;
    this.#length = length;
  }

  get length(): number {
    return this.#length;
  }

  /** The bytes, sharing memory (valid until the next change). */
  view(): Buffer {
    return this.#buffer.subarray(0, this.#length);
  }

  clone(): Bytes {
    return new Bytes(Buffer.from(this.view()));
  }

  write(position: number, data: Buffer): void {
    if (data.length === 0) return;
    const end = position + data.length;
    this.#reserve(end);
    data.copy(this.#buffer, position);
    this.#length = Math.max(this.#length, end);
  }

  truncate(length: number): void {
    if (length < this.#length) this.#buffer.fill(0, length, this.#length);
    else this.#reserve(length);
    this.#length = length;
  }

  #reserve(capacity: number): void {
    if (capacity <= this.#buffer.length) return;
    const grown = Buffer.alloc(Math.max(capacity, this.#buffer.length * 2, 64));
    this.#buffer.copy(grown, 0, 0, this.#length);
    this.#buffer = grown;
  }
}

function newFile(): FileNode {
  return { kind: 'file', current: new Bytes(), durable: new Bytes(), pending: [] };
}

function newDirectory(): DirectoryNode {
  return { kind: 'directory', entries: new Map(), durableEntries: new Map() };
}

function emptyStats(): MemoryFileSystemStats {
  return { syncCount: 0, directorySyncCount: 0, writeCount: 0, writtenBytes: 0 };
}

function normalize(path: string): string {
  return posix.resolve('/', path);
}

function segments(normalized: string): string[] {
  return normalized.split('/').filter((name) => name.length > 0);
}

function matches(pattern: PathPattern | undefined, path: string): boolean {
  if (pattern === undefined) return true;
  if (typeof pattern === 'string') return normalize(pattern) === path;
  pattern.lastIndex = 0;
  return pattern.test(path);
}

function checkRange(value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
  }
}
