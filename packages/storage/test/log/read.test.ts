import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeRecordBatch, readRecordBatchHeader } from '@brook/protocol';
import type { FileHandle, FileSystem } from '../../src/fs/file-system.ts';
import { MemoryFileSystem } from '../../src/fs/memory-file-system.ts';
import { PartitionLog } from '../../src/log/partition-log.ts';
import { poolOver, testConfig } from './helpers.ts';

/** The file system with a count of the reads of `.log` files. */
class CountingFileSystem implements FileSystem {
  readonly inner = new MemoryFileSystem();
  logReads = 0;
  async open(path: string, options: { create: boolean }): Promise<FileHandle> {
    const handle = await this.inner.open(path, options);
    const counting = path.endsWith('.log');
    return {
      read: (buffer, offset, length, position) => {
        if (counting) this.logReads++;
        return handle.read(buffer, offset, length, position);
      },
      write: (chunks, position) => handle.write(chunks, position),
      sync: () => handle.sync(),
      truncate: (length) => handle.truncate(length),
      size: () => handle.size(),
      close: () => handle.close(),
    };
  }
  readFile = (path: string) => this.inner.readFile(path);
  writeFileAtomic = (path: string, data: Buffer) => this.inner.writeFileAtomic(path, data);
  rename = (from: string, to: string) => this.inner.rename(from, to);
  unlink = (path: string) => this.inner.unlink(path);
  mkdir = (path: string) => this.inner.mkdir(path);
  removeDirectory = (path: string) => this.inner.removeDirectory(path);
  readdir = (path: string) => this.inner.readdir(path);
  exists = (path: string) => this.inner.exists(path);
  syncDirectory = (path: string) => this.inner.syncDirectory(path);
}

/** A batch of `count` records whose values are `size` bytes. */
function batchOf(count: number, size: number, fill: number): Buffer {
  return encodeRecordBatch({
    baseTimestamp: 1_700_000_000_000n,
    records: Array.from({ length: count }, (_, i) => ({
      offsetDelta: i,
      timestampDelta: 0,
      key: null,
      value: Buffer.alloc(size, (fill + i) & 0xff),
    })),
  });
}

/** A batch of at least `minCount` records that is exactly `size` bytes long. */
function batchSpanning(size: number, minCount: number): Buffer {
  for (let count = minCount; count < minCount + 50; count++) {
    for (let first = 0; first < 2000; first++) {
      const candidate = encodeRecordBatch({
        baseTimestamp: 1_700_000_000_000n,
        records: Array.from({ length: count }, (_, i) => ({
          offsetDelta: i,
          timestampDelta: 0,
          key: null,
          value: Buffer.alloc(i === 0 ? first : 20, 7),
        })),
      });
      if (candidate.length === size) return candidate;
      if (candidate.length > size) break;
    }
  }
  throw new Error(`no batch of ${size} bytes`);
}

interface Stored {
  readonly baseOffset: bigint;
  readonly lastOffset: bigint;
  readonly bytes: Buffer;
}

function split(records: Buffer): Stored[] {
  const batches: Stored[] = [];
  for (let at = 0; at < records.length; ) {
    const header = readRecordBatchHeader(records, at);
    const size = 12 + header.batchLength;
    batches.push({
      baseOffset: header.baseOffset,
      lastOffset: header.baseOffset + BigInt(header.lastOffsetDelta),
      bytes: records.subarray(at, at + size),
    });
    at += size;
  }
  return batches;
}

/** What a read must return: the batches from the one reaching `offset` that fit in maxBytes. */
function expected(all: readonly Stored[], offset: bigint, maxBytes: number, minOne: boolean) {
  const first = all.findIndex((batch) => batch.lastOffset >= offset);
  if (first < 0) return Buffer.alloc(0);
  const kept: Buffer[] = [];
  let bytes = 0;
  for (const batch of all.slice(first)) {
    if (bytes + batch.bytes.length > maxBytes) break;
    kept.push(batch.bytes);
    bytes += batch.bytes.length;
  }
  if (kept.length === 0 && minOne) kept.push(all[first]!.bytes);
  return Buffer.concat(kept);
}

/** Batches of 10 small records, with a 100 KiB one (longer than a read looks behind) in places. */
async function filledLog(fs: CountingFileSystem): Promise<{ log: PartitionLog; all: Stored[] }> {
  const log = await PartitionLog.open({
    directory: '/data/t-0',
    pool: poolOver(fs),
    config: testConfig(),
    recoveryPoint: 0n,
    logStartOffset: 0n,
    cleanShutdown: false,
  });
  for (let i = 0; i < 120; i++) {
    const big = i % 17 === 5;
    await log.append(big ? batchOf(2, 50 * 1024, i) : batchOf(10, 100, i), { leaderEpoch: 0 });
  }
  const all = split((await log.read(0n, { maxBytes: 1 << 30, minOneBatch: true })).records);
  assert.equal(all.at(-1)!.lastOffset + 1n, log.logEndOffset, 'one read holds the whole log');
  return { log, all };
}

describe('PartitionLog reads', () => {
  it('returns the batches that fit from any offset, with any limit', async () => {
    const fs = new CountingFileSystem();
    const { log, all } = await filledLog(fs);
    for (const maxBytes of [0, 1, 500, 4096, 70_000, 300_000]) {
      for (const minOneBatch of [true, false]) {
        for (let offset = 0n; offset < log.logEndOffset; offset += 3n) {
          const read = await log.read(offset, { maxBytes, minOneBatch });
          assert.ok(
            read.records.equals(expected(all, offset, maxBytes, minOneBatch)),
            `read(${offset}, maxBytes ${maxBytes}, minOneBatch ${minOneBatch})`,
          );
        }
      }
    }
    await log.close();
  });

  it('reads the file once per read for a consumer going on from where it stopped', async () => {
    const fs = new CountingFileSystem();
    const { log, all } = await filledLog(fs);
    for (const maxBytes of [1, 3000, 200_000]) {
      let offset = 0n;
      let reads = 0;
      let oversized = 0;
      fs.logReads = 0;
      while (offset < log.logEndOffset) {
        const read = await log.read(offset, { maxBytes, minOneBatch: true });
        assert.ok(read.records.equals(expected(all, offset, maxBytes, true)), `at ${offset}`);
        const batches = split(read.records);
        offset = batches.at(-1)!.lastOffset + 1n;
        reads++;
        if (batches[0]!.bytes.length > maxBytes) oversized++;
      }
      // Each read starts where the one before ended: one file read, and a second when the first
      // batch is larger than maxBytes (its header tells its size) and not already in the first.
      assert.ok(
        fs.logReads <= reads + oversized,
        `${fs.logReads} file reads for ${reads} reads of ${maxBytes} bytes`,
      );
    }
    await log.close();
  });

  it('reads once from an index entry near the offset, without reading headers first', async () => {
    const fs = new CountingFileSystem();
    const { log, all } = await filledLog(fs);
    // From inside each small batch: an index entry (every 4 KiB) is a few batches before it, and
    // the read finds the batch in what it read. Where the entry is a large batch (longer than a
    // read looks behind), its header is read first to skip it: two reads.
    for (const [i, batch] of all.entries()) {
      if (batch.bytes.length > 4096 || i === 0) continue;
      const afterLarge = all.slice(Math.max(0, i - 6), i).some((b) => b.bytes.length > 4096);
      fs.logReads = 0;
      const offset = batch.baseOffset + 1n;
      const read = await log.read(offset, { maxBytes: 2048, minOneBatch: true });
      assert.ok(read.records.equals(expected(all, offset, 2048, true)), `at ${offset}`);
      assert.ok(fs.logReads <= (afterLarge ? 2 : 1), `${fs.logReads} file reads at ${offset}`);
    }
    await log.close();
  });

  it('fills the buffers the caller gives, and forgets where reads ended when the log is cut', async () => {
    const fs = new CountingFileSystem();
    const { log, all } = await filledLog(fs);
    const given: Buffer[] = [];
    const allocate = (size: number) => {
      const buffer = Buffer.alloc(size + 16, 0xee).subarray(8, 8 + size);
      given.push(buffer);
      return buffer;
    };
    const at = all[40]!.baseOffset;
    const first = await log.read(at, { maxBytes: 3000, minOneBatch: true, allocate });
    assert.ok(first.records.equals(expected(all, at, 3000, true)));
    assert.ok(
      given.some((buffer) => buffer.buffer === first.records.buffer),
      'the records are a view of a buffer the caller gave',
    );
    const ended = split(first.records);
    const next = ended.at(-1)!.lastOffset + 1n;
    const span = ended.reduce((bytes, batch) => bytes + batch.bytes.length, 0);
    // Cut the log where that read began, and append a batch that holds `next` and ends exactly
    // where the read ended, then another: the batch at the position the read noted now lies past
    // `next`, and the read from `next` must not start there.
    await log.truncateTo(at);
    const holding = batchSpanning(span, Number(next - at) + 1);
    await log.append(holding, { leaderEpoch: 1 });
    await log.append(batchOf(5, 100, 99), { leaderEpoch: 1 });
    const now = split((await log.read(0n, { maxBytes: 1 << 30, minOneBatch: true })).records);
    const again = await log.read(next, { maxBytes: 3000, minOneBatch: true, allocate });
    assert.ok(again.records.equals(expected(now, next, 3000, true)));
    assert.equal(split(again.records)[0]!.baseOffset, at, 'the batch holding the offset');
    await log.close();
  });
});
