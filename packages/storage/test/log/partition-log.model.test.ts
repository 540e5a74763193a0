/**
 * Property tests of PartitionLog over the in-memory file system:
 *
 * 1. A model-based test: random appends, reads, offset-for-timestamp lookups, flushes, clean and
 *    unclean restarts (no power loss), truncations, DeleteRecords and retention, checked after
 *    every step against a plain model (the batches the log holds, its start and end offsets, its
 *    leader epochs). Segment boundaries are the log's own choice: the model reads them from
 *    `segmentBaseOffsets` and checks that they are sane, then predicts reads (a read returns the
 *    batches of one segment), sizes, retention and lookups exactly from them.
 * 2. Crash tests: random appends (concurrent, group-committed) with `flush.messages=1`, power
 *    loss with torn writes at a random moment (operations in flight), then recovery from a
 *    random recovery point. Every append whose `durable` promise resolved before the crash must
 *    be there, with its bytes; the log must be a run of appended batches, whole, with no hole
 *    and no garbage, whose epochs the leader epoch cache knows, and go on appending. Faults are
 *    injected on the way (failed fsyncs, failed and partial writes, a full disk, a failed
 *    checkpoint rename), and follower truncations. The same with a flush policy that never
 *    flushes: only what the previous recovery kept is owed, but the log must stay consistent.
 * 3. Fault scenarios, one by one, with the exact errors the log must give.
 * 4. Regression tests for the bugs these found.
 *
 * Bounded for CI (a few seconds). Longer runs, and replays of a failure:
 *
 *   BROOK_MODEL_RUNS=2000 npx node --test packages/storage/test/log/partition-log.model.test.ts
 *   BROOK_MODEL_SEED=<seed> ...     (the model test's fast-check seed, as a failure prints it)
 *   BROOK_CRASH_SEED=<n> npx node --test --test-name-pattern='<crash test>' ...
 *                                   (one crash run: the counterexample a crash test prints)
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodeRecordBatches,
  ErrorCode,
  encodeRecordBatch,
  LOG_OVERHEAD_BYTES,
  readRecordBatchHeader,
} from '@brook/protocol';
import fc from 'fast-check';
import type { EpochEntry } from '../../src/checkpoint/leader-epoch-cache.ts';
import { LogError, LogIoError } from '../../src/errors.ts';
import { FileHandlePool } from '../../src/fs/file-handle-pool.ts';
import type { FileHandle, FileSystem } from '../../src/fs/file-system.ts';
import { FileSystemError } from '../../src/fs/file-system-error.ts';
import { MemoryFileSystem, seededRandom } from '../../src/fs/memory-file-system.ts';
import { wholeBatchesLength } from '../../src/log/log-segment.ts';
import { PartitionLog, type PartitionLogConfig } from '../../src/log/partition-log.ts';
import { testConfig } from './helpers.ts';

/** `BROOK_MODEL_RUNS` scales every property here (default: a CI-sized run of a few seconds). */
const RUNS = Number(process.env.BROOK_MODEL_RUNS ?? 0);
const modelRuns = RUNS > 0 ? RUNS : 60;
/** `BROOK_MODEL_SEED` replays the model test's runs from the seed a failure printed. */
const MODEL_SEED = process.env.BROOK_MODEL_SEED;
const crashRuns = RUNS > 0 ? RUNS : 15;

const DIRECTORY = '/data/topic-0';
/** Record timestamps are drawn from [T0, T0 + 101 s]; the log's clock stands at NOW. */
const T0 = 1_700_000_000_000n;
const NOW = Number(T0) + 150_000;
const UNLIMITED = Number.MAX_SAFE_INTEGER;

// ---- records ----------------------------------------------------------------------------------

interface RecordSpec {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly timestampDelta: number;
}

interface BatchSpec {
  /** Milliseconds after T0. */
  readonly baseTimestamp: number;
  readonly records: readonly RecordSpec[];
}

const bytesArb = fc.option(
  fc.uint8Array({ maxLength: 120 }).map((bytes) => Buffer.from(bytes)),
  { freq: 8 },
);

const batchSpecArb: fc.Arbitrary<BatchSpec> = fc.record({
  baseTimestamp: fc.integer({ min: 0, max: 100_000 }),
  records: fc.array(
    fc.record({
      key: bytesArb,
      value: bytesArb,
      timestampDelta: fc.integer({ min: 0, max: 1000 }),
    }),
    { minLength: 1, maxLength: 5 },
  ),
});

/** One append: mostly one batch, sometimes several. */
const appendSpecArb = fc.oneof(
  { weight: 3, arbitrary: fc.array(batchSpecArb, { minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: fc.array(batchSpecArb, { minLength: 2, maxLength: 4 }) },
);

function encodeSpec(spec: BatchSpec): Buffer {
  return encodeRecordBatch({
    baseTimestamp: T0 + BigInt(spec.baseTimestamp),
    records: spec.records.map((record, i) => ({
      offsetDelta: i,
      timestampDelta: record.timestampDelta,
      key: record.key,
      value: record.value,
    })),
  });
}

/** A batch of `count` records with values `tag-i` (for the scenario tests). */
function simpleBatch(tag: string, count = 1): Buffer {
  return encodeSpec({
    baseTimestamp: 0,
    records: Array.from({ length: count }, (_, i) => ({
      key: Buffer.from(`k${i}`),
      value: Buffer.from(`${tag}-${i}`),
      timestampDelta: i,
    })),
  });
}

/** The batches of a blob of whole batches (copies). */
function splitBatches(records: Buffer): Buffer[] {
  const batches: Buffer[] = [];
  let position = 0;
  while (position < records.length) {
    const size = LOG_OVERHEAD_BYTES + records.readInt32BE(position + 8);
    batches.push(Buffer.from(records.subarray(position, position + size)));
    position += size;
  }
  return batches;
}

function lastOffsetOf(batch: Buffer): bigint {
  const header = readRecordBatchHeader(batch);
  return header.baseOffset + BigInt(header.lastOffsetDelta);
}

/** A read result must be whole batches that decode, with nothing left over. */
function assertWholeBatches(records: Buffer, context: string): void {
  assert.equal(wholeBatchesLength(records), records.length, `${context}: a partial batch`);
  assert.equal(decodeRecordBatches(records).truncatedBytes, 0, `${context}: trailing bytes`);
}

function isLogError(code: number): (error: unknown) => boolean {
  return (error) => error instanceof LogError && error.errorCode === code;
}

function pickOffset(low: bigint, high: bigint, fraction: number): bigint {
  if (high <= low) return low;
  const span = high - low + 1n;
  const picked = low + BigInt(Math.floor(fraction * Number(span)));
  return picked > high ? high : picked;
}

const fractionArb = fc.integer({ min: 0, max: 999_999 }).map((n) => n / 1_000_000);

function poolOver(fs: FileSystem, maxOpenFiles: number): FileHandlePool {
  return new FileHandlePool(fs, { maxOpenFiles });
}

function baseConfig(overrides: Partial<PartitionLogConfig>): PartitionLogConfig {
  return testConfig({
    messageTimestampBeforeMaxMs: UNLIMITED,
    messageTimestampAfterMaxMs: UNLIMITED,
    retentionMs: -1,
    retentionBytes: -1,
    flushMs: UNLIMITED,
    ...overrides,
  });
}

// ---- 1. the model-based test ------------------------------------------------------------------

interface ModelRecord {
  readonly offset: bigint;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly timestamp: bigint;
}

interface ModelBatch {
  readonly baseOffset: bigint;
  readonly lastOffset: bigint;
  readonly maxTimestamp: bigint;
  /** The batch as stored (offsets and leader epoch patched in). */
  readonly bytes: Buffer;
  readonly records: readonly ModelRecord[];
  /** Which append wrote it: a segment larger than segment.bytes holds one append only. */
  readonly appendId: number;
}

/** What the log must hold. Batches are those physically in the log, below the start too. */
interface Model {
  config: PartitionLogConfig;
  batches: ModelBatch[];
  logStartOffset: bigint;
  logEndOffset: bigint;
  epochs: EpochEntry[];
  leaderEpoch: number;
  appends: number;
}

interface Real {
  fs: MemoryFileSystem;
  log: PartitionLog;
  /** The offset after the last batch the latest read returned, where a consumer goes on. */
  nextReadOffset?: bigint;
}

/** Buffers for reads that hold stale bytes, as a caller recycling them would give. */
function dirtyAllocate(size: number): Buffer {
  return Buffer.alloc(size, 0xa5);
}

interface ModelSegment {
  readonly baseOffset: bigint;
  readonly batches: ModelBatch[];
  readonly size: number;
  readonly maxTimestamp: bigint;
}

/** The model's batches grouped by the log's segment base offsets. */
function segmentsOf(model: Model, bases: readonly bigint[]): ModelSegment[] {
  const groups = bases.map((baseOffset) => ({ baseOffset, batches: [] as ModelBatch[] }));
  for (const batch of model.batches) {
    let index = -1;
    for (let i = 0; i < bases.length; i++) if (bases[i]! <= batch.baseOffset) index = i;
    assert.ok(index >= 0, `batch ${batch.baseOffset} lies below the first segment ${bases[0]}`);
    const next = bases[index + 1];
    assert.ok(
      next === undefined || batch.lastOffset < next,
      `batch ${batch.baseOffset}..${batch.lastOffset} straddles segment ${next}`,
    );
    groups[index]!.batches.push(batch);
  }
  return groups.map(({ baseOffset, batches }) => ({
    baseOffset,
    batches,
    size: batches.reduce((total, batch) => total + batch.bytes.length, 0),
    maxTimestamp: batches.reduce(
      (max, batch) => (batch.maxTimestamp > max ? batch.maxTimestamp : max),
      -1n,
    ),
  }));
}

/** The leader epoch cache's rules, as the model applies them. */
const epochModel = {
  assign(model: Model, epoch: number, startOffset: bigint): void {
    const latest = model.epochs.at(-1);
    if (latest !== undefined && latest.epoch >= epoch) return;
    model.epochs = model.epochs.filter((entry) => entry.startOffset < startOffset);
    model.epochs.push({ epoch, startOffset });
  },
  truncateFromEnd(model: Model, offset: bigint): void {
    model.epochs = model.epochs.filter((entry) => entry.startOffset < offset);
  },
  truncateFromStart(model: Model, offset: bigint): void {
    const covering = model.epochs.filter((entry) => entry.startOffset <= offset).at(-1);
    const after = model.epochs.filter((entry) => entry.startOffset > offset);
    model.epochs = covering ? [{ epoch: covering.epoch, startOffset: offset }, ...after] : after;
  },
};

/** Everything the log reports about itself agrees with the model. */
function checkInvariants(model: Model, real: Real, step: string): void {
  const log = real.log;
  assert.equal(log.logEndOffset, model.logEndOffset, `${step}: log end offset`);
  assert.equal(log.logStartOffset, model.logStartOffset, `${step}: log start offset`);
  assert.ok(log.logStartOffset <= log.logEndOffset, `${step}: log start passes the log end`);
  const bases = log.segmentBaseOffsets;
  for (let i = 1; i < bases.length; i++) {
    assert.ok(
      bases[i - 1]! < bases[i]!,
      `${step}: segment bases ${bases.join(',')} not increasing`,
    );
  }
  assert.ok(
    bases[0]! <= log.logStartOffset,
    `${step}: the first segment starts after the log start`,
  );
  const segments = segmentsOf(model, bases);
  for (const [i, segment] of segments.entries()) {
    const active = i === segments.length - 1;
    if (!active) assert.ok(segment.size > 0, `${step}: empty segment ${segment.baseOffset}`);
    const first = segment.batches[0];
    if (first !== undefined) {
      assert.equal(
        first.baseOffset,
        segment.baseOffset,
        `${step}: segment ${segment.baseOffset} base`,
      );
    }
    const oneAppend = new Set(segment.batches.map((batch) => batch.appendId)).size <= 1;
    assert.ok(
      segment.size <= model.config.segmentBytes || oneAppend,
      `${step}: segment ${segment.baseOffset} holds ${segment.size} bytes over segment.bytes`,
    );
  }
  // The log is contiguous, ends at a batch boundary, and holds the log start.
  for (let i = 1; i < model.batches.length; i++) {
    assert.equal(model.batches[i]!.baseOffset, model.batches[i - 1]!.lastOffset + 1n);
  }
  const last = model.batches.at(-1);
  if (last !== undefined)
    assert.equal(model.logEndOffset, last.lastOffset + 1n, `${step}: log end`);
  assert.equal(
    log.sizeBytes,
    segments.reduce((total, s) => total + s.size, 0),
    `${step}: size`,
  );
  assert.deepEqual(log.leaderEpochs.all, model.epochs, `${step}: leader epochs`);
}

function batchContaining(model: Model, offset: bigint): number {
  return model.batches.findIndex(
    (batch) => batch.baseOffset <= offset && offset <= batch.lastOffset,
  );
}

type ModelCommand = fc.AsyncCommand<Model, Real>;

class AppendCommand implements ModelCommand {
  readonly specs: BatchSpec[];
  readonly newEpoch: boolean;
  constructor(specs: BatchSpec[], newEpoch: boolean) {
    this.specs = specs;
    this.newEpoch = newEpoch;
  }
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    const encoded = this.specs.map(encodeSpec);
    const records = Buffer.concat(encoded);
    if (this.newEpoch) model.leaderEpoch++;
    const result = await real.log.append(records, { leaderEpoch: model.leaderEpoch });
    const appendId = model.appends++;
    const firstOffset = model.logEndOffset;
    assert.equal(result.firstOffset, firstOffset, 'append: first offset');
    const recordCount = this.specs.reduce((total, spec) => total + spec.records.length, 0);
    assert.equal(result.recordCount, recordCount);
    assert.equal(result.lastOffset, firstOffset + BigInt(recordCount) - 1n, 'append: last offset');
    epochModel.assign(model, model.leaderEpoch, firstOffset);
    let offset = firstOffset;
    const stored = splitBatches(records);
    for (const [i, spec] of this.specs.entries()) {
      const bytes = stored[i]!;
      const header = readRecordBatchHeader(bytes);
      assert.equal(header.baseOffset, offset);
      assert.equal(header.partitionLeaderEpoch, model.leaderEpoch);
      const base = T0 + BigInt(spec.baseTimestamp);
      const batchRecords = spec.records.map((record, j) => ({
        offset: offset + BigInt(j),
        key: record.key,
        value: record.value,
        timestamp: base + BigInt(record.timestampDelta),
      }));
      model.batches.push({
        baseOffset: offset,
        lastOffset: offset + BigInt(spec.records.length) - 1n,
        maxTimestamp: batchRecords.reduce(
          (max, r) => (r.timestamp > max ? r.timestamp : max),
          base,
        ),
        bytes,
        records: batchRecords,
        appendId,
      });
      offset += BigInt(spec.records.length);
    }
    model.logEndOffset = offset;
    await result.durable;
    checkInvariants(model, real, this.toString());
  }
  toString(): string {
    const counts = this.specs.map((spec) => spec.records.length).join('+');
    return `append(${counts}${this.newEpoch ? ', new epoch' : ''})`;
  }
}

class ReadCommand implements ModelCommand {
  readonly where: number;
  readonly maxBytes: number;
  readonly minOneBatch: boolean;
  readonly bound: number | null;
  /** Read from where the latest read ended (as a consumer does), into recycled buffers. */
  readonly follow: boolean;
  constructor(
    where: number,
    maxBytes: number,
    minOneBatch: boolean,
    bound: number | null,
    follow: boolean,
  ) {
    this.where = where;
    this.maxBytes = maxBytes;
    this.minOneBatch = minOneBatch;
    this.bound = bound;
    this.follow = follow;
  }
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    const low = model.logStartOffset > 2n ? model.logStartOffset - 2n : 0n;
    const offset =
      this.follow && real.nextReadOffset !== undefined
        ? real.nextReadOffset
        : pickOffset(low, model.logEndOffset + 2n, this.where);
    const maxOffset =
      this.bound === null ? undefined : pickOffset(offset, model.logEndOffset, this.bound);
    const options = {
      maxBytes: this.maxBytes,
      minOneBatch: this.minOneBatch,
      ...(maxOffset === undefined ? {} : { maxOffset }),
      ...(this.follow ? { allocate: dirtyAllocate } : {}),
    };
    const context = `read(${offset}, ${JSON.stringify({ ...options, maxOffset: String(maxOffset) })})`;
    if (offset < model.logStartOffset || offset > model.logEndOffset) {
      await assert.rejects(
        real.log.read(offset, options),
        isLogError(ErrorCode.OFFSET_OUT_OF_RANGE),
      );
      return;
    }
    const result = await real.log.read(offset, options);
    const returned = splitBatches(result.records).at(-1);
    if (returned !== undefined) {
      const header = readRecordBatchHeader(returned);
      real.nextReadOffset = header.baseOffset + BigInt(header.lastOffsetDelta) + 1n;
    }
    assert.equal(result.logStartOffset, model.logStartOffset, context);
    assert.equal(result.logEndOffset, model.logEndOffset, context);
    assertWholeBatches(result.records, context);
    const expected: ModelBatch[] = [];
    if (offset < model.logEndOffset && (maxOffset === undefined || offset < maxOffset)) {
      // The batches from the one holding `offset` to the end of its segment that fit in maxBytes
      // (at least the first with minOneBatch), and that start below maxOffset.
      const segments = segmentsOf(model, real.log.segmentBaseOffsets);
      const first = batchContaining(model, offset);
      assert.ok(first >= 0, `${context}: the model holds no batch at ${offset}`);
      const segment = segments.find((s) => s.batches.includes(model.batches[first]!))!;
      let bytes = 0;
      for (const batch of segment.batches.slice(segment.batches.indexOf(model.batches[first]!))) {
        if (bytes + batch.bytes.length > this.maxBytes) break;
        bytes += batch.bytes.length;
        expected.push(batch);
      }
      if (expected.length === 0 && this.minOneBatch) expected.push(model.batches[first]!);
      while (
        maxOffset !== undefined &&
        expected.length > 0 &&
        expected.at(-1)!.baseOffset >= maxOffset
      ) {
        expected.pop();
      }
    }
    const got = splitBatches(result.records);
    assert.deepEqual(
      got.map((batch) => readRecordBatchHeader(batch).baseOffset),
      expected.map((batch) => batch.baseOffset),
      `${context}: batches returned`,
    );
    for (const [i, batch] of expected.entries()) {
      assert.ok(got[i]!.equals(batch.bytes), `${context}: batch ${batch.baseOffset} bytes differ`);
    }
    // And the records decode to what was appended.
    const decoded = decodeRecordBatches(result.records).batches.flatMap((batch) =>
      batch.records.map((record) => ({
        offset: batch.baseOffset + BigInt(record.offsetDelta),
        key: record.key,
        value: record.value,
        timestamp: batch.baseTimestamp + BigInt(record.timestampDelta),
      })),
    );
    assert.deepEqual(
      decoded,
      expected.flatMap((batch) => batch.records),
      `${context}: records`,
    );
  }
  toString(): string {
    return `read(at ${this.follow ? 'the last end' : this.where.toFixed(3)}, maxBytes ${this.maxBytes}, minOneBatch ${this.minOneBatch}, bound ${this.bound?.toFixed(3) ?? 'none'})`;
  }
}

class OffsetForTimestampCommand implements ModelCommand {
  readonly millis: number;
  constructor(millis: number) {
    this.millis = millis;
  }
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    const timestamp = T0 + BigInt(this.millis);
    const found = model.batches.find((batch) => batch.maxTimestamp >= timestamp);
    const expected =
      found === undefined
        ? undefined
        : {
            offset:
              found.baseOffset < model.logStartOffset ? model.logStartOffset : found.baseOffset,
            timestamp: found.maxTimestamp,
          };
    assert.deepEqual(await real.log.offsetForTimestamp(timestamp), expected, this.toString());
    let max: ModelBatch | undefined;
    for (const batch of model.batches) {
      if (max === undefined || batch.maxTimestamp > max.maxTimestamp) max = batch;
    }
    assert.deepEqual(
      real.log.maxTimestampAndOffset(),
      max === undefined ? undefined : { timestamp: max.maxTimestamp, offset: max.lastOffset },
      'maxTimestampAndOffset',
    );
  }
  toString(): string {
    return `offsetForTimestamp(T0 + ${this.millis})`;
  }
}

class FlushCommand implements ModelCommand {
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    await real.log.flush();
    assert.equal(real.log.recoveryPoint, model.logEndOffset, 'flush: recovery point');
  }
  toString(): string {
    return 'flush';
  }
}

class ReopenCommand implements ModelCommand {
  readonly clean: boolean;
  readonly fromZero: boolean;
  readonly maxOpenFiles: number;
  constructor(clean: boolean, fromZero: boolean, maxOpenFiles: number) {
    this.clean = clean;
    this.fromZero = fromZero;
    this.maxOpenFiles = maxOpenFiles;
  }
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    let recoveryPoint = model.logEndOffset;
    if (this.clean) await real.log.close();
    else recoveryPoint = this.fromZero ? 0n : real.log.recoveryPoint;
    // Without close, the old log is simply dropped: a process that died, but not the machine.
    real.log = await PartitionLog.open({
      directory: DIRECTORY,
      pool: poolOver(real.fs, this.maxOpenFiles),
      config: model.config,
      recoveryPoint,
      logStartOffset: model.logStartOffset,
      cleanShutdown: this.clean,
      clock: () => NOW,
    });
    epochModel.truncateFromEnd(model, model.logEndOffset);
    checkInvariants(model, real, this.toString());
  }
  toString(): string {
    const recovery = this.fromZero ? 'from 0' : 'from the recovery point';
    return `reopen(${this.clean ? 'clean' : `unclean, ${recovery}`}, ${this.maxOpenFiles} files)`;
  }
}

class TruncateCommand implements ModelCommand {
  readonly where: number;
  constructor(where: number) {
    this.where = where;
  }
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    const low = model.logStartOffset > 2n ? model.logStartOffset - 2n : 0n;
    const offset = pickOffset(low, model.logEndOffset + 1n, this.where);
    const bases = real.log.segmentBaseOffsets;
    await real.log.truncateTo(offset);
    const target = offset < model.logStartOffset ? model.logStartOffset : offset;
    if (target < model.logEndOffset) {
      // Whole batches go: the one holding the target and everything after it.
      model.batches = model.batches.filter((batch) => batch.lastOffset < target);
      const kept = bases.filter((base) => base < target);
      const activeBase = kept.at(-1) ?? bases[0]!;
      const lastEnd = model.batches.at(-1)?.lastOffset;
      model.logEndOffset =
        lastEnd !== undefined && lastEnd + 1n > activeBase ? lastEnd + 1n : activeBase;
      // The log start never passes the log end.
      if (model.logStartOffset > model.logEndOffset) model.logStartOffset = model.logEndOffset;
      epochModel.truncateFromEnd(model, model.logEndOffset);
    }
    checkInvariants(model, real, `truncateTo(${offset})`);
  }
  toString(): string {
    return `truncateTo(at ${this.where.toFixed(3)})`;
  }
}

/** Drops the segments the log deleted (those below its first base) from the model. */
function dropDeletedSegments(model: Model, bases: readonly bigint[]): void {
  model.batches = model.batches.filter((batch) => batch.baseOffset >= bases[0]!);
}

class DeleteRecordsCommand implements ModelCommand {
  readonly where: number;
  constructor(where: number) {
    this.where = where;
  }
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    const low = model.logStartOffset > 1n ? model.logStartOffset - 1n : 0n;
    const offset = pickOffset(low, model.logEndOffset + 1n, this.where);
    if (offset > model.logEndOffset) {
      await assert.rejects(
        real.log.deleteRecordsBefore(offset),
        isLogError(ErrorCode.OFFSET_OUT_OF_RANGE),
      );
      return;
    }
    let bases = real.log.segmentBaseOffsets;
    if (offset > model.logStartOffset) {
      model.logStartOffset = offset;
      epochModel.truncateFromStart(model, offset);
    }
    // Segments wholly below the new start go.
    while (bases.length > 1 && bases[1]! <= model.logStartOffset) bases = bases.slice(1);
    assert.equal(await real.log.deleteRecordsBefore(offset), model.logStartOffset);
    assert.deepEqual(real.log.segmentBaseOffsets, bases, 'deleteRecordsBefore: segments left');
    dropDeletedSegments(model, bases);
    checkInvariants(model, real, `deleteRecordsBefore(${offset})`);
  }
  toString(): string {
    return `deleteRecordsBefore(at ${this.where.toFixed(3)})`;
  }
}

class RetentionCommand implements ModelCommand {
  readonly retentionBytes: number;
  readonly retentionMs: number;
  readonly nowMillis: number;
  constructor(retentionBytes: number, retentionMs: number, nowMillis: number) {
    this.retentionBytes = retentionBytes;
    this.retentionMs = retentionMs;
    this.nowMillis = nowMillis;
  }
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    const { retentionBytes, retentionMs } = this;
    model.config = { ...model.config, retentionBytes, retentionMs };
    real.log.updateConfig(model.config);
    const now = Number(T0) + this.nowMillis;
    // Kafka's rule: delete from the oldest segment while it breaches retention.ms, or while the
    // log is over retention.bytes by at least its size; never the active segment.
    const segments = segmentsOf(model, real.log.segmentBaseOffsets);
    let excess = retentionBytes < 0 ? 0 : segments.reduce((t, s) => t + s.size, 0) - retentionBytes;
    let deleted = 0;
    for (const segment of segments.slice(0, -1)) {
      const timeOk = retentionMs < 0 || now - Number(segment.maxTimestamp) <= retentionMs;
      if (timeOk && excess < segment.size) break;
      excess -= segment.size;
      deleted++;
    }
    assert.equal(await real.log.applyRetention(now), deleted, `${this}: segments deleted`);
    const bases = segments.slice(deleted).map((segment) => segment.baseOffset);
    assert.deepEqual(real.log.segmentBaseOffsets, bases, `${this}: segments left`);
    if (bases[0]! > model.logStartOffset) {
      model.logStartOffset = bases[0]!;
      epochModel.truncateFromStart(model, model.logStartOffset);
    }
    dropDeletedSegments(model, bases);
    checkInvariants(model, real, this.toString());
  }
  toString(): string {
    return `retention(bytes ${this.retentionBytes}, ms ${this.retentionMs}, now T0 + ${this.nowMillis})`;
  }
}

/** Appends are drawn three times as often as anything else; one in ten bumps the epoch. */
const appendCommandArb = fc
  .tuple(appendSpecArb, fc.integer({ min: 0, max: 9 }))
  .map(([specs, bump]) => new AppendCommand(specs, bump === 0));

const modelCommands = [
  appendCommandArb,
  appendCommandArb,
  appendCommandArb,
  fc
    .tuple(
      fractionArb,
      fc.oneof(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 0, max: 4000 })),
      fc.boolean(),
      fc.option(fractionArb, { freq: 3 }),
      fc.boolean(),
    )
    .map(
      ([where, maxBytes, minOneBatch, bound, follow]) =>
        new ReadCommand(where, maxBytes, minOneBatch, bound, follow),
    ),
  fc.integer({ min: -10, max: 102_000 }).map((millis) => new OffsetForTimestampCommand(millis)),
  fc.constant(new FlushCommand()),
  fc
    .tuple(fc.boolean(), fc.boolean(), fc.integer({ min: 1, max: 6 }))
    .map(([clean, fromZero, files]) => new ReopenCommand(clean, fromZero, files)),
  fractionArb.map((where) => new TruncateCommand(where)),
  fractionArb.map((where) => new DeleteRecordsCommand(where)),
  fc
    .tuple(
      fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 3000 })),
      fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 150_000 })),
      fc.integer({ min: 0, max: 250_000 }),
    )
    .map(([bytes, ms, now]) => new RetentionCommand(bytes, ms, now)),
];

const modelConfigArb = fc.record({
  segmentBytes: fc.integer({ min: 200, max: 2000 }),
  indexIntervalBytes: fc.integer({ min: 1, max: 400 }),
  segmentIndexBytes: fc.oneof(fc.integer({ min: 12, max: 96 }), fc.constant(10 * 1024 * 1024)),
  segmentMs: fc.oneof(fc.constant(7 * 24 * 3600 * 1000), fc.integer({ min: 1000, max: 60_000 })),
  flushMessages: fc.constantFrom(1, 3, UNLIMITED),
  maxOpenFiles: fc.integer({ min: 1, max: 6 }),
});

describe('PartitionLog against a model', () => {
  it('agrees with the model through appends, reads, restarts, truncation, DeleteRecords and retention', async () => {
    await fc.assert(
      fc.asyncProperty(
        modelConfigArb,
        fc.commands(modelCommands, { maxCommands: 80, size: 'max' }),
        async ({ maxOpenFiles, ...overrides }, commands) => {
          const config = baseConfig(overrides);
          const setup = async (): Promise<{ model: Model; real: Real }> => {
            const fs = new MemoryFileSystem();
            const log = await PartitionLog.open({
              directory: DIRECTORY,
              pool: poolOver(fs, maxOpenFiles),
              config,
              recoveryPoint: 0n,
              logStartOffset: 0n,
              cleanShutdown: false,
              clock: () => NOW,
            });
            const model: Model = {
              config,
              batches: [],
              logStartOffset: 0n,
              logEndOffset: 0n,
              epochs: [],
              leaderEpoch: 0,
              appends: 0,
            };
            return { model, real: { fs, log } };
          };
          await fc.asyncModelRun(setup, commands);
        },
      ),
      { numRuns: modelRuns, ...(MODEL_SEED === undefined ? {} : { seed: Number(MODEL_SEED) }) },
    );
  });
});

// ---- 2. crash tests ---------------------------------------------------------------------------

/**
 * The file system as one process sees it: after `kill()` every call fails, so a log left
 * running when the machine "lost power" cannot touch the disk the next process recovers (a real
 * crash takes the process down with it).
 */
class ProcessFileSystem implements FileSystem {
  readonly disk: MemoryFileSystem;
  alive = true;
  constructor(disk: MemoryFileSystem) {
    this.disk = disk;
  }
  kill(): void {
    this.alive = false;
  }
  check(syscall: string, path: string): void {
    if (!this.alive) throw new FileSystemError('EIO', syscall, path, 'the process is gone');
  }
  async open(path: string, options: { create: boolean }): Promise<FileHandle> {
    this.check('open', path);
    return new ProcessFileHandle(this, await this.disk.open(path, options), path);
  }
  async readFile(path: string): Promise<Buffer> {
    this.check('read', path);
    return this.disk.readFile(path);
  }
  async writeFileAtomic(path: string, data: Buffer): Promise<void> {
    this.check('write', path);
    return this.disk.writeFileAtomic(path, data);
  }
  async rename(from: string, to: string): Promise<void> {
    this.check('rename', from);
    return this.disk.rename(from, to);
  }
  async unlink(path: string): Promise<void> {
    this.check('unlink', path);
    return this.disk.unlink(path);
  }
  async mkdir(path: string): Promise<void> {
    this.check('mkdir', path);
    return this.disk.mkdir(path);
  }
  async removeDirectory(path: string): Promise<void> {
    this.check('rmdir', path);
    return this.disk.removeDirectory(path);
  }
  async readdir(path: string): Promise<string[]> {
    this.check('scandir', path);
    return this.disk.readdir(path);
  }
  async exists(path: string): Promise<boolean> {
    this.check('access', path);
    return this.disk.exists(path);
  }
  async syncDirectory(path: string): Promise<void> {
    this.check('fsync', path);
    return this.disk.syncDirectory(path);
  }
}

class ProcessFileHandle implements FileHandle {
  readonly #process: ProcessFileSystem;
  readonly #handle: FileHandle;
  readonly #path: string;
  constructor(process: ProcessFileSystem, handle: FileHandle, path: string) {
    this.#process = process;
    this.#handle = handle;
    this.#path = path;
  }
  async read(buffer: Buffer, offset: number, length: number, position: number): Promise<number> {
    this.#process.check('read', this.#path);
    return this.#handle.read(buffer, offset, length, position);
  }
  async write(chunks: readonly Buffer[], position: number): Promise<void> {
    this.#process.check('write', this.#path);
    return this.#handle.write(chunks, position);
  }
  async sync(): Promise<void> {
    this.#process.check('fsync', this.#path);
    return this.#handle.sync();
  }
  async truncate(length: number): Promise<void> {
    this.#process.check('ftruncate', this.#path);
    return this.#handle.truncate(length);
  }
  async size(): Promise<number> {
    this.#process.check('fstat', this.#path);
    return this.#handle.size();
  }
  async close(): Promise<void> {
    return this.#handle.close();
  }
}

/** Lets queued promise callbacks run `ticks` times (a crash then lands mid-operation). */
async function microticks(ticks: number): Promise<void> {
  for (let i = 0; i < ticks; i++) await Promise.resolve();
}

/** Lets everything in flight settle (the memory file system never waits on real I/O). */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** What a crash test knows of the batches it appended. */
interface CrashLedger {
  /** Every batch an append may have written, by base offset (an offset may be tried twice). */
  readonly candidates: Map<bigint, Buffer[]>;
  /** Batches the log must hold: acknowledged durable, or kept by an earlier recovery. */
  readonly required: Map<bigint, Buffer>;
}

function noteCandidates(ledger: CrashLedger, records: Buffer): void {
  for (const batch of splitBatches(records)) {
    // A batch the log never took keeps the producer's leader epoch (-1) and offset (0).
    if (readRecordBatchHeader(batch).partitionLeaderEpoch < 0) continue;
    const base = readRecordBatchHeader(batch).baseOffset;
    const list = ledger.candidates.get(base) ?? [];
    list.push(batch);
    ledger.candidates.set(base, list);
  }
}

/**
 * Reads the whole recovered log in random-sized steps and checks it: whole batches only, a
 * contiguous run from the log start to the log end of batches that were appended (byte for
 * byte), holding every required batch. Returns the batches read.
 */
async function checkRecovered(
  log: PartitionLog,
  ledger: CrashLedger,
  random: () => number,
  context: string,
): Promise<Buffer[]> {
  const batches: Buffer[] = [];
  let next = log.logStartOffset;
  while (next < log.logEndOffset) {
    const maxBytes = 1 + Math.floor(random() * 3000);
    const read = await log.read(next, { maxBytes, minOneBatch: true });
    assertWholeBatches(read.records, `${context}: read at ${next}`);
    const got = splitBatches(read.records);
    assert.ok(
      got.length > 0,
      `${context}: nothing read at ${next} below the log end ${log.logEndOffset} (segments ${log.segmentBaseOffsets.join(', ')})`,
    );
    for (const batch of got) {
      const header = readRecordBatchHeader(batch);
      assert.equal(header.baseOffset, next, `${context}: a gap or overlap at ${next}`);
      const known = ledger.candidates.get(header.baseOffset) ?? [];
      assert.ok(
        known.some((candidate) => candidate.equals(batch)),
        `${context}: the batch at ${next} was never appended (garbage)`,
      );
      batches.push(batch);
      next = lastOffsetOf(batch) + 1n;
    }
  }
  assert.equal(next, log.logEndOffset, `${context}: the log end is not at a batch boundary`);
  for (const [base, batch] of ledger.required) {
    if (base < log.logStartOffset) continue;
    const found = batches.find((b) => readRecordBatchHeader(b).baseOffset === base);
    assert.ok(
      found !== undefined,
      `${context}: lost the durable batch at ${base} (log end ${log.logEndOffset})`,
    );
    assert.ok(found.equals(batch), `${context}: the durable batch at ${base} changed`);
  }
  // The leader epoch cache covers every batch: the entry in force at a batch's base offset is
  // the epoch the batch carries.
  const epochs = log.leaderEpochs.all;
  for (const batch of batches) {
    const header = readRecordBatchHeader(batch);
    const entry = epochs.filter((e) => e.startOffset <= header.baseOffset).at(-1);
    assert.equal(
      entry?.epoch,
      header.partitionLeaderEpoch,
      `${context}: batch ${header.baseOffset} has epoch ${header.partitionLeaderEpoch}, the cache says ${JSON.stringify(epochs, (_, v) => (typeof v === 'bigint' ? String(v) : v))}`,
    );
  }
  return batches;
}

type Fault = 'none' | 'sync-log' | 'sync-directory' | 'write-log' | 'disk-full' | 'epoch-rename';

interface CrashRunOptions {
  readonly seed: number;
  /** flush.messages: 1 acknowledges each append after its fsync; UNLIMITED never flushes. */
  readonly flushMessages: number;
  readonly faults: boolean;
  /** Truncations (a follower's) on the way; a crash may then bring cut batches back. */
  readonly truncations?: boolean;
}

/**
 * Rounds of: open (recovering), check, append at random (some concurrently), maybe inject a
 * fault, lose power at a random moment, recover with a random recovery point.
 */
async function crashRun({
  seed,
  flushMessages,
  faults,
  truncations = false,
}: CrashRunOptions): Promise<void> {
  const random = seededRandom(seed);
  const int = (n: number) => Math.floor(random() * n);
  const disk = new MemoryFileSystem();
  const config = baseConfig({
    segmentBytes: 200 + int(1800),
    indexIntervalBytes: 1 + int(400),
    segmentIndexBytes: random() < 0.2 ? 12 + int(60) : 10 * 1024 * 1024,
    flushMessages,
  });
  const ledger: CrashLedger = { candidates: new Map(), required: new Map() };
  const durableSoFar = flushMessages === 1;
  let recoveryPoint = 0n;
  let leaderEpoch = 0;
  let lastFault: Fault = 'none';
  const rounds = 2 + int(4);
  for (let round = 0; round <= rounds; round++) {
    const context = `seed ${seed}, round ${round}, after fault ${lastFault}`;
    const process_ = new ProcessFileSystem(disk);
    const log = await PartitionLog.open({
      directory: DIRECTORY,
      pool: poolOver(process_, 1 + int(6)),
      config,
      recoveryPoint,
      logStartOffset: 0n,
      cleanShutdown: false,
      clock: () => NOW,
    });
    // Everything recovery kept is durable now (open syncs it): it must survive later crashes.
    for (const batch of await checkRecovered(log, ledger, random, context)) {
      ledger.required.set(readRecordBatchHeader(batch).baseOffset, batch);
    }
    for (const base of [...ledger.required.keys()]) {
      if (base >= log.logEndOffset) ledger.required.delete(base);
    }
    if (round === rounds) {
      // The last round: appending goes on from the recovered end.
      const end = log.logEndOffset;
      const records = simpleBatch('after', 2);
      const result = await log.append(records, { leaderEpoch: leaderEpoch + 1 });
      assert.equal(result.firstOffset, end, `${context}: append after recovery`);
      await result.durable;
      const read = await log.read(end, { maxBytes: 1 << 20, minOneBatch: true });
      assert.ok(read.records.equals(records), `${context}: read after recovery`);
      await log.close();
      return;
    }
    leaderEpoch++;
    const acked: Buffer[][] = [];
    let crashed = false;
    const inFlight: Promise<unknown>[] = [];
    let fault: Fault = 'none';
    const steps = 1 + int(25);
    const appendOne = (): void => {
      const specs = Array.from({ length: 1 + int(2) }, () => ({
        baseTimestamp: int(100_000),
        records: Array.from({ length: 1 + int(4) }, () => ({
          key: random() < 0.2 ? null : Buffer.alloc(int(30), int(256)),
          value:
            random() < 0.1 ? null : Buffer.from(Array.from({ length: int(100) }, () => int(256))),
          timestampDelta: int(1000),
        })),
      }));
      const records = Buffer.concat(specs.map(encodeSpec));
      if (random() < 0.1) leaderEpoch++;
      const appending = log.append(records, { leaderEpoch }).then(
        (result) => {
          noteCandidates(ledger, records);
          return result.durable.then(
            () => {
              if (!crashed) acked.push(splitBatches(records));
            },
            () => {},
          );
        },
        () => noteCandidates(ledger, records),
      );
      inFlight.push(appending);
    };
    for (let step = 0; step < steps; step++) {
      appendOne();
      const pause = random();
      if (pause < 0.4) await Promise.allSettled(inFlight);
      else if (pause < 0.8) await microticks(int(40));
      if (truncations && random() < 0.08) {
        // A follower's truncation, with nothing in flight: what it cuts is no longer owed.
        await Promise.allSettled(inFlight);
        const span = Number(log.logEndOffset - log.logStartOffset) + 1;
        const cut = await log.truncateTo(log.logStartOffset + BigInt(int(span))).then(
          () => true,
          () => false,
        );
        if (cut) {
          const end = log.logEndOffset;
          for (const base of [...ledger.required.keys()]) {
            if (base >= end) ledger.required.delete(base);
          }
          for (const batches of acked) {
            batches.splice(0, batches.length, ...batches.filter((b) => lastOffsetOf(b) < end));
          }
        }
      }
      if (faults && fault === 'none' && random() < 0.15) {
        fault = (['sync-log', 'sync-directory', 'write-log', 'disk-full', 'epoch-rename'] as const)[
          int(5)
        ]!;
        if (fault === 'sync-log') disk.failNextSync(/\.log$/);
        else if (fault === 'sync-directory') disk.failNextSync(DIRECTORY);
        else if (fault === 'write-log') disk.failNextWrite(/\.log$/, { partialBytes: int(120) });
        else if (fault === 'disk-full') {
          const used = await totalBytes(disk);
          disk.diskFullAfterBytes(used + int(400));
        } else {
          disk.failNextRename(/leader-epoch-checkpoint/);
          leaderEpoch++;
        }
        // Let the fault fire before the crash, so no armed fault outlives this "process".
        for (let i = 0; i < 3; i++) appendOne();
        await Promise.allSettled(inFlight);
        if (flushMessages !== 1) await log.flush().catch(() => {});
        await Promise.allSettled(inFlight);
      }
    }
    await microticks(int(60));
    // Power loss. The recovery point the next start uses is what a checkpoint could have saved:
    // the log's own (below it everything was fsynced), or 0 (recover everything).
    recoveryPoint = random() < 0.5 ? log.recoveryPoint : 0n;
    lastFault = fault;
    crashed = true;
    process_.kill();
    disk.crash({ tornWrites: true, random });
    await Promise.allSettled(inFlight);
    await settle();
    await disarm(disk, fault);
    if (durableSoFar) {
      for (const batches of acked) {
        for (const batch of batches)
          ledger.required.set(readRecordBatchHeader(batch).baseOffset, batch);
      }
    }
  }
}

/**
 * Makes sure an injected fault did not outlive the crashed process (it may not have fired):
 * operations that change nothing on the recovered disk take it if it is still armed.
 */
async function disarm(disk: MemoryFileSystem, fault: Fault): Promise<void> {
  disk.diskFullAfterBytes(Number.POSITIVE_INFINITY);
  if (fault === 'sync-directory') await disk.syncDirectory(DIRECTORY).catch(() => {});
  if (fault === 'sync-log' || fault === 'write-log' || fault === 'epoch-rename') {
    const probe = `${DIRECTORY}/${fault === 'epoch-rename' ? 'leader-epoch-checkpoint.probe' : 'probe.log'}`;
    const file = await disk.open(probe, { create: true });
    if (fault === 'sync-log') await file.sync().catch(() => {});
    if (fault === 'write-log') await file.write([], 0).catch(() => {});
    await file.close();
    if (fault === 'epoch-rename') await disk.rename(probe, probe).catch(() => {});
    await disk.unlink(probe);
  }
}

async function totalBytes(disk: MemoryFileSystem): Promise<number> {
  let total = 0;
  for (const name of await disk.readdir(DIRECTORY)) {
    // Appends are in flight: a temporary file may go between the listing and the read.
    total += (await disk.readFile(`${DIRECTORY}/${name}`).catch(() => Buffer.alloc(0))).length;
  }
  return total;
}

/** A crash property over seeds; `BROOK_CRASH_SEED` replays one seed (from a failure) first. */
async function assertCrashes(options: Omit<CrashRunOptions, 'seed'>): Promise<void> {
  const replay = process.env.BROOK_CRASH_SEED;
  await fc.assert(
    fc.asyncProperty(fc.integer(), (seed) => crashRun({ seed, ...options })),
    {
      numRuns: replay === undefined ? crashRuns : 1,
      ...(replay === undefined
        ? {}
        : { examples: [[Number(replay)] as [number]], endOnFailure: true }),
    },
  );
}

describe('PartitionLog crashes on the memory file system', () => {
  it('keeps every append acknowledged durable under flush.messages=1, torn writes and all', async () => {
    await assertCrashes({ flushMessages: 1, faults: false });
  });

  it('never acknowledges what a failed fsync or write left behind, and stays consistent', async () => {
    await assertCrashes({ flushMessages: 1, faults: true });
  });

  it('keeps acknowledged appends through truncations (a follower), faults and crashes', async () => {
    await assertCrashes({ flushMessages: 1, faults: true, truncations: true });
  });

  it('keeps a consistent prefix when it never flushes (and what recovery kept)', async () => {
    await assertCrashes({ flushMessages: UNLIMITED, faults: false });
  });

  it('keeps a consistent prefix when it never flushes, with faults', async () => {
    await assertCrashes({ flushMessages: UNLIMITED, faults: true });
  });
});

// ---- 3. fault scenarios -----------------------------------------------------------------------

interface Scenario {
  readonly disk: MemoryFileSystem;
  readonly config: PartitionLogConfig;
  open(options?: { recoveryPoint?: bigint; cleanShutdown?: boolean }): Promise<PartitionLog>;
}

function scenario(overrides: Partial<PartitionLogConfig> = {}): Scenario {
  const disk = new MemoryFileSystem();
  const config = baseConfig({ flushMessages: 1, ...overrides });
  return {
    disk,
    config,
    open: ({ recoveryPoint = 0n, cleanShutdown = false } = {}) =>
      PartitionLog.open({
        directory: DIRECTORY,
        pool: poolOver(disk, 4),
        config,
        recoveryPoint,
        logStartOffset: 0n,
        cleanShutdown,
        clock: () => NOW,
      }),
  };
}

/** Every batch from the log start to the log end, checked whole. */
async function readAll(log: PartitionLog): Promise<Buffer[]> {
  const batches: Buffer[] = [];
  let next = log.logStartOffset;
  while (next < log.logEndOffset) {
    const read = await log.read(next, { maxBytes: 1 << 20, minOneBatch: true });
    assertWholeBatches(read.records, `read at ${next}`);
    const got = splitBatches(read.records);
    assert.ok(got.length > 0, `nothing at ${next} below the log end ${log.logEndOffset}`);
    for (const batch of got) {
      assert.equal(readRecordBatchHeader(batch).baseOffset, next, `a hole at ${next}`);
      batches.push(batch);
      next = lastOffsetOf(batch) + 1n;
    }
  }
  assert.equal(next, log.logEndOffset);
  return batches;
}

/** Appends `count` one-record batches, each waited for until durable; returns them as stored. */
async function appendDurably(log: PartitionLog, tag: string, count: number): Promise<Buffer[]> {
  const stored: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const records = simpleBatch(`${tag}${i}`, 1 + (i % 3));
    const result = await log.append(records, { leaderEpoch: 0 });
    await result.durable;
    stored.push(records);
  }
  return stored;
}

function assertStartsWith(
  batches: readonly Buffer[],
  prefix: readonly Buffer[],
  context: string,
): void {
  assert.ok(
    batches.length >= prefix.length,
    `${context}: ${batches.length} batches, ${prefix.length} were durable`,
  );
  for (const [i, batch] of prefix.entries()) {
    assert.ok(batches[i]!.equals(batch), `${context}: durable batch ${i} changed`);
  }
}

describe('PartitionLog faults on the memory file system', () => {
  for (const target of ['log file', 'directory'] as const) {
    it(`a failed fsync of the ${target} rejects the append's durable promise and takes the log offline`, async () => {
      for (let seed = 1; seed <= 20; seed++) {
        // One segment, no roll. The directory is synced by the first flush after a segment was
        // created (and by checkpoints, which take the fault first): for it, a fresh log whose
        // appends carry no leader epoch.
        const s = scenario();
        const log = await s.open();
        const leaderEpoch = target === 'directory' ? -1 : 0;
        const durable = target === 'directory' ? [] : await appendDurably(log, 'd', 6);
        s.disk.failNextSync(target === 'log file' ? /\.log$/ : DIRECTORY);
        // Several appends share the failing fsync (group commit): none may be acknowledged. An
        // append either fails itself (the log went offline first) or its durable promise does.
        const outcomes = await Promise.all(
          [0, 1, 2].map((i) =>
            log.append(simpleBatch(`f${i}`, 2), { leaderEpoch }).then(
              (result) =>
                result.durable.then(
                  () => 'acknowledged',
                  (error: unknown) => error,
                ),
              (error: unknown) => error,
            ),
          ),
        );
        for (const outcome of outcomes) assert.ok(outcome instanceof LogIoError, String(outcome));
        await assert.rejects(log.append(simpleBatch('after', 1), { leaderEpoch: 0 }), LogIoError);
        await assert.rejects(log.flush(), LogIoError);
        await assert.rejects(log.read(0n, { maxBytes: 100, minOneBatch: true }), LogIoError);
        s.disk.crash({ tornWrites: true, random: seededRandom(seed) });
        const reopened = await s.open({ recoveryPoint: seed % 2 === 0 ? 0n : log.recoveryPoint });
        const batches = await readAll(reopened);
        // What was durable is there; the failed appends may or may not be.
        assertStartsWith(batches, durable, `seed ${seed}`);
        assert.ok(batches.length <= durable.length + 3);
        const next = await reopened.append(simpleBatch('next', 1), { leaderEpoch: 0 });
        assert.equal(next.firstOffset, reopened.logEndOffset - 1n);
        await next.durable;
        await reopened.close();
      }
    });
  }

  it('a failed write with partial bytes rejects the append, and no partial batch is ever read', async () => {
    for (let partialBytes = 0; partialBytes < 130; partialBytes += 7) {
      for (const crash of [false, true]) {
        const s = scenario();
        const log = await s.open();
        const durable = await appendDurably(log, 'w', 4);
        const endBefore = log.logEndOffset;
        s.disk.failNextWrite(/\.log$/, { partialBytes });
        const torn = simpleBatch('torn', 3);
        await assert.rejects(log.append(torn, { leaderEpoch: 0 }), LogIoError);
        await assert.rejects(log.append(simpleBatch('refused', 1), { leaderEpoch: 0 }), LogIoError);
        assert.equal(log.logEndOffset, endBefore, 'the failed append did not move the log end');
        await log.close();
        // The partial bytes are in the file (in the page cache, or kept by the crash): recovery
        // cuts them off. A failed write may also have written everything: then the batch is whole.
        if (crash) s.disk.crash({ tornWrites: true, random: seededRandom(partialBytes) });
        const reopened = await s.open();
        const batches = await readAll(reopened);
        assertStartsWith(batches, durable, `partial ${partialBytes}`);
        if (partialBytes < torn.length) {
          assert.equal(reopened.logEndOffset, endBefore, `partial ${partialBytes}: the log end`);
        } else {
          assert.ok(reopened.logEndOffset === endBefore || batches.at(-1)!.equals(torn));
        }
        const end = reopened.logEndOffset;
        const next = await reopened.append(simpleBatch('next', 1), { leaderEpoch: 0 });
        assert.equal(next.firstOffset, end);
        await reopened.close();
      }
    }
  });

  it('a truncation followed by new appends and a crash leaves no stale index entry', async () => {
    for (let seed = 1; seed <= 30; seed++) {
      const random = seededRandom(seed);
      const s = scenario({ segmentBytes: 600, indexIntervalBytes: 1, flushMessages: UNLIMITED });
      let log = await s.open();
      for (let i = 0; i < 6; i++)
        await log.append(simpleBatch(`old${i}`, 1 + (i % 2)), { leaderEpoch: 0 });
      await log.close(); // the index files are durable now, with entries for these batches
      log = await s.open({ cleanShutdown: true, recoveryPoint: 0n });
      await log.truncateTo(BigInt(1 + Math.floor(random() * 4)));
      // Different batches (other sizes) at the same offsets and positions, then a roll, which
      // flushes the segment: its log is durable, with the recovery point past it.
      while (log.segmentCount < 2) {
        await log.append(
          simpleBatch(`new-${'x'.repeat(Math.floor(random() * 40))}`, 1 + Math.floor(random() * 3)),
          { leaderEpoch: 0 },
        );
      }
      await log.flush();
      const expected = await readAll(log);
      const recoveryPoint = log.recoveryPoint;
      s.disk.crash({ tornWrites: random() < 0.5, random });
      // The first segment is below the recovery point: it is not recovered, its index is trusted.
      const reopened = await s.open({ recoveryPoint });
      const batches = await readAll(reopened);
      assertStartsWith(batches, expected, `seed ${seed}`);
      for (const batch of expected) {
        const base = readRecordBatchHeader(batch).baseOffset;
        const read = await reopened.read(base, { maxBytes: 1, minOneBatch: true });
        assert.ok(
          read.records.equals(batch),
          `seed ${seed}: the batch at ${base} through the index`,
        );
      }
      await reopened.close();
    }
  });

  it('a full disk rejects the append, and nothing torn is readable after a restart', async () => {
    for (let room = 0; room < 400; room += 23) {
      const s = scenario({ segmentBytes: 300 });
      const log = await s.open();
      const durable = await appendDurably(log, 'n', 5);
      s.disk.diskFullAfterBytes((await totalBytes(s.disk)) + room);
      let failed: unknown;
      for (let i = 0; i < 20 && failed === undefined; i++) {
        try {
          const records = simpleBatch(`full${i}`, 2);
          await (await log.append(records, { leaderEpoch: 0 })).durable;
          durable.push(records);
        } catch (error) {
          failed = error;
        }
      }
      assert.ok(failed instanceof LogIoError, `room ${room}: ${String(failed)}`);
      assert.equal((failed.cause as { code?: unknown }).code, 'ENOSPC');
      await assert.rejects(log.append(simpleBatch('refused', 1), { leaderEpoch: 0 }), LogIoError);
      for (const crash of [false, true]) {
        if (crash) s.disk.crash({ tornWrites: true, random: seededRandom(room) });
        // Space was freed (the broker needs some to recover: indexes are rebuilt, snapshots taken).
        s.disk.diskFullAfterBytes(Number.POSITIVE_INFINITY);
        const reopened = await s.open();
        const batches = await readAll(reopened);
        assertStartsWith(batches, durable, `room ${room}`);
        const end = reopened.logEndOffset;
        const next = await reopened.append(simpleBatch('next', 1), { leaderEpoch: 0 });
        assert.equal(next.firstOffset, end);
        await reopened.close();
        s.disk.diskFullAfterBytes((await totalBytes(s.disk)) + room);
      }
    }
  });
});

// ---- regressions these tests found ------------------------------------------------------------

describe('PartitionLog regressions found by the model and crash tests', () => {
  it('truncateTo at or below a log start equal to the log end keeps the epoch entry starting there', async () => {
    const log = await scenario().open();
    await log.append(simpleBatch('a', 1), { leaderEpoch: 1 });
    await log.deleteRecordsBefore(1n);
    assert.deepEqual(log.leaderEpochs.all, [{ epoch: 1, startOffset: 1n }]);
    await log.truncateTo(0n);
    assert.equal(log.logEndOffset, 1n);
    assert.deepEqual(log.leaderEpochs.all, [{ epoch: 1, startOffset: 1n }]);
    await log.close();
  });

  it('truncateTo cutting the batch that holds the log start leaves the start at the end, not past it', async () => {
    const log = await scenario().open();
    await log.append(simpleBatch('a', 3), { leaderEpoch: 0 });
    await log.deleteRecordsBefore(1n);
    await log.truncateTo(1n); // whole batches go: 0..2 with it
    assert.equal(log.logEndOffset, 0n);
    assert.equal(log.logStartOffset, 0n);
    const batch = simpleBatch('b', 1);
    const next = await log.append(batch, { leaderEpoch: 0 });
    assert.equal(next.firstOffset, 0n);
    const read = await log.read(0n, { maxBytes: 1 << 20, minOneBatch: true });
    assert.ok(read.records.equals(batch));
    await log.close();
  });

  it('rebuilding an index (recovery) rewrites its file, leaving no stale entries past the new ones', async () => {
    const s = scenario({ indexIntervalBytes: 1, flushMessages: UNLIMITED });
    let log = await s.open();
    const old = [0, 1, 2, 3].map((i) => simpleBatch(`old${i}`, 1));
    for (const batch of old) await log.append(batch, { leaderEpoch: 0 });
    await log.close(); // an index entry per batch, on disk
    // A torn tail: the last two batches are gone from the log, not from the index file.
    const file = await s.disk.open(`${DIRECTORY}/${'0'.repeat(20)}.log`, { create: false });
    await file.truncate(old[0]!.length + old[1]!.length);
    await file.close();
    log = await s.open({ recoveryPoint: 0n });
    assert.equal(log.logEndOffset, 2n);
    // A longer batch where the old third one was: the stale fourth entry would point inside it.
    const batch = simpleBatch('new-and-much-longer', 1);
    await log.append(batch, { leaderEpoch: 0 });
    await log.close();
    log = await s.open({ cleanShutdown: true, recoveryPoint: 3n });
    assert.equal(log.logEndOffset, 3n);
    const batches = await readAll(log);
    assert.ok(batches[2]?.equals(batch));
    await log.close();
  });

  it('keeps the offset of the first batch reaching the max timestamp across a clean restart', async () => {
    const first = encodeSpec({
      baseTimestamp: 5,
      records: [{ key: null, value: Buffer.from('a'), timestampDelta: 0 }],
    });
    const second = encodeSpec({
      baseTimestamp: 5,
      records: [{ key: null, value: Buffer.from('bb'), timestampDelta: 0 }],
    });
    // An index entry lands on the second batch only, and the time index entry points at the first.
    const s = scenario({ indexIntervalBytes: first.length });
    let log = await s.open();
    await log.append(Buffer.concat([first, second]), { leaderEpoch: 0 });
    const expected = { timestamp: T0 + 5n, offset: 0n };
    assert.deepEqual(log.maxTimestampAndOffset(), expected);
    await log.close();
    log = await s.open({ cleanShutdown: true, recoveryPoint: 2n });
    assert.deepEqual(log.maxTimestampAndOffset(), expected);
    await log.close();
  });

  describe('keeps the max timestamp when the time index fills up within an append', () => {
    // The shrunk counterexample: one append of four batches (1+1+2+1 records) whose max
    // timestamp (T0 + 1, offset 3) is in the third. With index.interval.bytes 75 the offset index
    // takes entries at the second and the fourth batch; the time index can only take one at the
    // second (T0, offset 0), after which it is full: the third batch's max is in no entry until
    // the segment records its final one, in the slot the time index keeps for it.
    const batches = (): Buffer[] =>
      [
        { baseTimestamp: 0, deltas: [0] },
        { baseTimestamp: 0, deltas: [0] },
        { baseTimestamp: 0, deltas: [0, 1] },
        { baseTimestamp: 0, deltas: [0] },
      ].map(({ baseTimestamp, deltas }) =>
        encodeSpec({
          baseTimestamp,
          records: deltas.map((timestampDelta) => ({ key: null, value: null, timestampDelta })),
        }),
      );
    const expected = { timestamp: T0 + 1n, offset: 3n };
    const config = (segmentIndexBytes: number): Partial<PartitionLogConfig> => ({
      segmentBytes: 200,
      indexIntervalBytes: 75,
      segmentIndexBytes,
      segmentMs: 1000,
    });

    /** The relative offsets of the `.index` entries of segment 0 on disk. */
    async function offsetIndexEntries(disk: MemoryFileSystem): Promise<number[]> {
      const bytes = await disk.readFile(`${DIRECTORY}/${'0'.repeat(20)}.index`);
      return Array.from({ length: bytes.length / 8 }, (_, i) => bytes.readInt32BE(i * 8));
    }

    /** The `.timeindex` entries of segment 0 on disk. */
    async function timeIndexEntries(
      disk: MemoryFileSystem,
    ): Promise<{ timestamp: bigint; offset: bigint }[]> {
      const bytes = await disk.readFile(`${DIRECTORY}/${'0'.repeat(20)}.timeindex`);
      return Array.from({ length: bytes.length / 12 }, (_, i) => ({
        timestamp: bytes.readBigInt64BE(i * 12),
        offset: BigInt(bytes.readInt32BE(i * 12 + 8)),
      }));
    }

    it('across a clean restart, with a time index of one slot (segment.index.bytes 16)', async () => {
      const s = scenario(config(16));
      let log = await s.open();
      await (await log.append(Buffer.concat(batches()), { leaderEpoch: 1 })).durable;
      assert.deepEqual(await offsetIndexEntries(s.disk), [1, 4], 'the shrunk case index layout');
      assert.deepEqual(log.maxTimestampAndOffset(), expected);
      await log.close();
      // The one slot is the final entry's: no entry took it on the way.
      assert.deepEqual(await timeIndexEntries(s.disk), [expected]);
      log = await s.open({ cleanShutdown: true, recoveryPoint: 5n });
      assert.deepEqual(log.maxTimestampAndOffset(), expected);
      assert.deepEqual(await log.offsetForTimestamp(T0 + 1n), { offset: 2n, timestamp: T0 + 1n });
      // Such an index is full from the start: the next append rolls (as Kafka does).
      await log.append(simpleBatch('next', 1), { leaderEpoch: 1 });
      assert.deepEqual(log.segmentBaseOffsets, [0n, 5n]);
      assert.deepEqual(log.maxTimestampAndOffset(), expected);
      await log.close();
    });

    it('through a truncation that keeps the batch with the max', async () => {
      const s = scenario(config(24));
      const log = await s.open();
      const last = encodeSpec({
        baseTimestamp: 1,
        records: [0, 1].map((timestampDelta) => ({ key: null, value: null, timestampDelta })),
      });
      await (await log.append(Buffer.concat([...batches(), last]), { leaderEpoch: 1 })).durable;
      assert.deepEqual(await offsetIndexEntries(s.disk), [1, 4]);
      assert.deepEqual(log.maxTimestampAndOffset(), { timestamp: T0 + 2n, offset: 6n });
      await log.truncateTo(5n); // the last batch goes, the time index keeps only (T0, 0)
      assert.equal(log.logEndOffset, 5n);
      assert.deepEqual(log.maxTimestampAndOffset(), expected);
      await log.close();
    });

    it('across a process death after a roll whose flush had nothing to do', async () => {
      const s = scenario(config(24));
      const log = await s.open();
      await (await log.append(Buffer.concat(batches()), { leaderEpoch: 1 })).durable;
      // The time index is full: this append rolls, when everything is flushed already.
      await (await log.append(simpleBatch('next', 1), { leaderEpoch: 1 })).durable;
      assert.deepEqual(log.segmentBaseOffsets, [0n, 5n]);
      // Dropped without a close: segment 0, below the recovery point, is trusted as it is.
      const reopened = await s.open({ recoveryPoint: log.recoveryPoint });
      assert.deepEqual(reopened.maxTimestampAndOffset(), expected);
      await reopened.close();
    });

    it("across a power loss after a roll: the roll syncs the finished segment's indexes", async () => {
      const s = scenario(config(24));
      const log = await s.open();
      await (await log.append(Buffer.concat(batches()), { leaderEpoch: 1 })).durable;
      await (await log.append(simpleBatch('next', 1), { leaderEpoch: 1 })).durable; // rolls
      assert.deepEqual(log.segmentBaseOffsets, [0n, 5n]);
      const recoveryPoint = log.recoveryPoint;
      assert.equal(recoveryPoint, 6n, 'segment 0 is below the recovery point');
      s.disk.crash(); // unsynced writes are lost; segment 0 is trusted as it is on disk
      assert.deepEqual((await timeIndexEntries(s.disk)).at(-1), expected, 'the final entry');
      const reopened = await s.open({ recoveryPoint });
      assert.deepEqual(reopened.maxTimestampAndOffset(), expected);
      await reopened.close();
    });

    it('across a process death after a recovery that rebuilt the indexes', async () => {
      const s = scenario(config(24));
      let log = await s.open();
      await (await log.append(Buffer.concat(batches()), { leaderEpoch: 1 })).durable;
      await (await log.append(simpleBatch('next', 1), { leaderEpoch: 1 })).durable; // rolls
      await log.close();
      log = await s.open({ recoveryPoint: 0n }); // unclean: every segment rebuilt
      assert.deepEqual(log.maxTimestampAndOffset(), expected);
      // Dropped without a close: this time segment 0 is trusted, as the recovery wrote it.
      log = await s.open({ recoveryPoint: log.recoveryPoint });
      assert.deepEqual(log.maxTimestampAndOffset(), expected);
      await log.close();
    });
  });

  it("counts segment.ms from the segment's first batch after a truncation that keeps it", async () => {
    const s = scenario({ segmentMs: 100, indexIntervalBytes: 1 });
    const log = await s.open();
    const at = (baseTimestamp: number) =>
      encodeSpec({ baseTimestamp, records: [{ key: null, value: null, timestampDelta: 0 }] });
    for (const timestamp of [0, 50, 60]) await log.append(at(timestamp), { leaderEpoch: 0 });
    await log.truncateTo(2n); // keeps T0 and T0 + 50; index entries at every batch
    await log.append(at(99), { leaderEpoch: 0 });
    assert.deepEqual(log.segmentBaseOffsets, [0n], '99 ms after the first batch: no roll');
    await log.append(at(120), { leaderEpoch: 0 });
    assert.deepEqual(log.segmentBaseOffsets, [0n, 3n], '120 ms after the first batch: a roll');
    await log.close();
  });

  it('makes a finished segment durable on a roll, so a crash cannot keep a later segment without it', async () => {
    const s = scenario({ segmentBytes: 100, flushMessages: UNLIMITED });
    const log = await s.open();
    const first = simpleBatch('first', 2);
    await log.append(first, { leaderEpoch: 0 });
    await log.append(simpleBatch('second', 2), { leaderEpoch: 0 }); // rolls
    assert.equal(log.segmentCount, 2);
    assert.equal(log.recoveryPoint, 2n, 'the roll flushed the finished segment');
    s.disk.crash();
    const reopened = await s.open({ recoveryPoint: 0n });
    const batches = await readAll(reopened);
    assert.ok(batches[0]?.equals(first), 'the finished segment survived the crash');
    await reopened.close();
  });

  it('goes offline when the leader epoch checkpoint cannot be written', async () => {
    const s = scenario();
    const log = await s.open();
    await (await log.append(simpleBatch('a', 1), { leaderEpoch: 1 })).durable;
    s.disk.failNextRename(/leader-epoch-checkpoint/);
    await assert.rejects(log.append(simpleBatch('b', 1), { leaderEpoch: 2 }), LogIoError);
    // Not a batch of epoch 2 the checkpoint does not know.
    await assert.rejects(log.append(simpleBatch('c', 1), { leaderEpoch: 2 }), LogIoError);
    s.disk.crash();
    const reopened = await s.open();
    assert.deepEqual(reopened.leaderEpochs.all, [{ epoch: 1, startOffset: 0n }]);
    assert.equal(reopened.logEndOffset, 1n);
    await reopened.close();
  });

  it('never runs two fsyncs at once: a flush asked for as one ends joins the queued one', async () => {
    const s = scenario({ flushMessages: UNLIMITED });
    const log = await s.open();
    await log.append(simpleBatch('a', 1), { leaderEpoch: 0 });
    const first = log.flush();
    const queued = log.flush(); // waits for the first
    await log.append(simpleBatch('b', 1), { leaderEpoch: 0 });
    await first;
    // The first flush is over and the queued one has not started yet: this one must join it,
    // not start beside it (the failed fsync would be masked by the other one).
    s.disk.failNextSync(/\.log$/);
    const joining = log.flush();
    const outcomes = await Promise.allSettled([queued, joining]);
    assert.deepEqual(
      outcomes.map((outcome) => outcome.status),
      ['rejected', 'rejected'],
      'a flush that fsynced nothing durable resolved',
    );
    await log.close();
  });

  it('makes a truncation durable before the leader epoch checkpoint forgets the cut epochs', async () => {
    const s = scenario();
    const log = await s.open();
    await (await log.append(simpleBatch('a', 3), { leaderEpoch: 1 })).durable;
    await (await log.append(simpleBatch('b', 2), { leaderEpoch: 2 })).durable;
    await log.truncateTo(3n);
    assert.deepEqual(log.leaderEpochs.all, [{ epoch: 1, startOffset: 0n }]);
    s.disk.crash();
    const reopened = await s.open({ recoveryPoint: 3n });
    assert.equal(reopened.logEndOffset, 3n, 'the cut batch of epoch 2 came back');
    assert.deepEqual(reopened.leaderEpochs.all, [{ epoch: 1, startOffset: 0n }]);
    await reopened.close();
  });
});
