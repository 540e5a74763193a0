/**
 * Crash test with real processes: a child (`crash.child.ts`) appends with fsync acknowledgements
 * and is killed with SIGKILL at a random moment; the log is then recovered in this process and
 * every acknowledged record must be there, in order, at its offset, with its bytes, and no read
 * may return a partial batch. The next round's child appends on from the recovered end.
 *
 *   BROOK_CRASH_ROUNDS=200 BROOK_CRASH_SEED=7 npx node --test packages/storage/test/log/crash.test.ts
 *
 * Rounds default to 5 (a few seconds); the seed (printed) picks the kill moments.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { wholeBatchesLength } from '../../src/log/log-segment.ts';
import { PartitionLog } from '../../src/log/partition-log.ts';
import { CRASH_LOG_CONFIG, expectedBatch, recordCountAt } from './crash.child.ts';
import { nodePool, tempDirectory } from './helpers.ts';

const ROUNDS = Number(process.env.BROOK_CRASH_ROUNDS ?? 5);
const SEED = Number(process.env.BROOK_CRASH_SEED ?? 20261122);
const CHILD = fileURLToPath(new URL('./crash.child.ts', import.meta.url));
/** The child gives up by itself after this long, should this process die without killing it. */
const CHILD_TIME_LIMIT_MS = 60_000;

/** mulberry32: a small seeded generator of numbers in [0, 1). */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface RoundResult {
  /** The log end the child found on opening; undefined when it was killed before. */
  readonly readyOffset: bigint | undefined;
  /** The largest acknowledged last offset; undefined when none was. */
  readonly maxAcked: bigint | undefined;
  readonly acks: number;
  readonly killedAfterMs: number;
  readonly moment: string;
}

/** Runs one child with `leaderEpoch` and kills it with SIGKILL at a moment drawn from `random`. */
async function runChild(
  directory: string,
  leaderEpoch: number,
  random: () => number,
): Promise<RoundResult> {
  const child = spawn(
    process.execPath,
    [CHILD, directory, String(leaderEpoch), String(CHILD_TIME_LIMIT_MS)],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const started = performance.now();
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr += chunk;
  });
  let readyOffset: bigint | undefined;
  let maxAcked: bigint | undefined;
  let acks = 0;
  let onReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    onReady = resolve;
  });
  const lines = createInterface({ input: child.stdout });
  lines.on('line', (line) => {
    if (line.startsWith('ready ')) {
      readyOffset = BigInt(line.slice(6));
      onReady();
      return;
    }
    const acked = BigInt(line);
    acks++;
    if (maxAcked === undefined || acked > maxAcked) maxAcked = acked;
  });
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  const exitedEarly = closed.then(({ code, signal }) => {
    throw new Error(`the child exited by itself (code ${code}, signal ${signal}):\n${stderr}`);
  });
  exitedEarly.catch(() => {});

  // A fifth of the rounds die while starting (loading, or recovering the log); of the others,
  // some just after the first appends, most in the thick of them.
  const draw = random();
  let moment: string;
  let delayMs: number;
  if (draw < 0.2) {
    moment = 'starting';
    delayMs = random() * 250;
  } else {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`the child was not ready in 20 s:\n${stderr}`)),
        20_000,
      );
    });
    try {
      await Promise.race([ready, exitedEarly, timeout]);
    } finally {
      clearTimeout(timer);
    }
    moment = draw < 0.45 ? 'first appends' : 'appending';
    delayMs = draw < 0.45 ? random() * 15 : 20 + random() * 400;
  }
  await Promise.race([new Promise((resolve) => setTimeout(resolve, delayMs)), exitedEarly]);
  const killedAfterMs = performance.now() - started;
  child.kill('SIGKILL');
  const { signal } = await closed;
  assert.equal(signal, 'SIGKILL', `the child ended otherwise than killed:\n${stderr}`);
  assert.equal(stderr, '', 'the child reported a failure');
  return { readyOffset, maxAcked, acks, killedAfterMs, moment };
}

/**
 * Adds the first bytes of a batch to the end of the last segment, as a write cut short by the
 * kill would leave them (SIGKILL alone rarely does: the page cache keeps whole writes). Returns
 * how many bytes.
 */
function tearTail(directory: string, random: () => number): number {
  if (!existsSync(directory)) return 0;
  const last = readdirSync(directory)
    .filter((name) => name.endsWith('.log'))
    .sort()
    .at(-1);
  if (last === undefined) return 0;
  const whole = expectedBatch(BigInt(Math.floor(random() * 1000)), 0);
  const torn = whole.subarray(0, 1 + Math.floor(random() * (whole.length - 1)));
  appendFileSync(join(directory, last), torn);
  return torn.length;
}

/** Bytes of the `.log` files in `directory` (none yet when the first child died starting). */
function logBytes(directory: string): number {
  if (!existsSync(directory)) return 0;
  let total = 0;
  for (const name of readdirSync(directory)) {
    if (name.endsWith('.log')) total += statSync(join(directory, name)).size;
  }
  return total;
}

/**
 * Recovers the log and checks it whole: offsets contiguous from 0, each batch byte for byte as
 * the child made it (with the leader epoch of the round that wrote it), reads of whole batches
 * only, random reads landing on the batch that holds their offset, the leader epoch cache
 * matching the batches. Returns the log end offset and the bytes recovery cut.
 */
/**
 * Digests of the batches already compared byte for byte with their expected bytes, by base offset
 * and epoch: a later check compares digests, so long runs do not rebuild the whole log each round.
 */
const verified = new Map<string, string>();

function digest(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('base64');
}

async function recoverAndCheck(
  directory: string,
  epochStarts: readonly { epoch: number; start: bigint }[],
  random: () => number,
): Promise<{ logEndOffset: bigint; cutBytes: number; segments: number }> {
  const bytesBefore = logBytes(directory);
  const log = await PartitionLog.open({
    directory,
    pool: nodePool(),
    config: CRASH_LOG_CONFIG,
    recoveryPoint: 0n,
    logStartOffset: 0n,
    cleanShutdown: false,
  });
  try {
    const cutBytes = bytesBefore - logBytes(directory);
    const end = log.logEndOffset;
    const epochAt = (offset: bigint): number => {
      let epoch = -1;
      for (const entry of epochStarts) if (entry.start <= offset) epoch = entry.epoch;
      return epoch;
    };
    // The whole log, in reads of random sizes.
    const epochEntries: { epoch: number; startOffset: bigint }[] = [];
    let offset = 0n;
    while (offset < end) {
      const maxBytes = 1 + Math.floor(random() * 256 * 1024);
      const { records } = await log.read(offset, { maxBytes, minOneBatch: true });
      assert.ok(records.length > 0, `read at ${offset} (log end ${end}) returned nothing`);
      assert.equal(wholeBatchesLength(records), records.length, `partial batch at ${offset}`);
      let position = 0;
      while (position < records.length) {
        const base = records.readBigInt64BE(position);
        const size = 12 + records.readInt32BE(position + 8);
        assert.equal(base, offset, 'offsets are contiguous');
        const epoch = epochAt(base);
        const stored = records.subarray(position, position + size);
        const key = `${base}/${epoch}`;
        const known = verified.get(key);
        if (known === undefined) {
          assert.ok(
            expectedBatch(base, epoch).equals(stored),
            `the batch at ${base} has the bytes appended in epoch ${epoch}`,
          );
          verified.set(key, digest(stored));
        } else {
          assert.equal(digest(stored), known, `the batch at ${base} is unchanged since checked`);
        }
        if (epochEntries.at(-1)?.epoch !== epoch) epochEntries.push({ epoch, startOffset: base });
        offset = base + BigInt(recordCountAt(base));
        position += size;
      }
    }
    assert.equal(offset, end);
    // Reads in the middle of batches start with the batch holding the offset.
    for (let i = 0; i < 20 && end > 0n; i++) {
      const target = BigInt(Math.floor(random() * Number(end)));
      const { records } = await log.read(target, {
        maxBytes: 1 + Math.floor(random() * 65536),
        minOneBatch: true,
      });
      const base = records.readBigInt64BE(0);
      assert.ok(base <= target && target < base + BigInt(recordCountAt(base)), `read at ${target}`);
      assert.equal(wholeBatchesLength(records), records.length, `partial batch at ${target}`);
    }
    assert.equal((await log.read(end, { maxBytes: 1024, minOneBatch: true })).records.length, 0);
    assert.deepEqual(
      log.leaderEpochs.all.map(({ epoch, startOffset }) => ({ epoch, startOffset })),
      epochEntries,
      'the leader epoch cache matches the epochs of the batches',
    );
    return { logEndOffset: end, cutBytes, segments: log.segmentCount };
  } finally {
    await log.close();
  }
}

describe('PartitionLog crash', () => {
  it(`keeps every acknowledged append across ${ROUNDS} SIGKILLs of the appending process`, async (t) => {
    t.diagnostic(`seed ${SEED} (BROOK_CRASH_SEED), ${ROUNDS} rounds (BROOK_CRASH_ROUNDS)`);
    // Two streams, so the kill moments a seed gives do not depend on the size of the log.
    const random = seededRandom(SEED);
    const checkRandom = seededRandom(SEED ^ 0x5bd1e995);
    const directory = join(tempDirectory(t), 'crash-0');
    const epochStarts: { epoch: number; start: bigint }[] = [];
    let maxAcked: bigint | undefined;
    let logEnd = 0n;
    let totalAcks = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const result = await runChild(directory, round, random);
      if (result.readyOffset !== undefined) {
        assert.equal(result.readyOffset, logEnd, 'the child opens the log where recovery left it');
        epochStarts.push({ epoch: round, start: result.readyOffset });
      } else {
        assert.equal(result.acks, 0);
      }
      if (result.maxAcked !== undefined && (maxAcked === undefined || result.maxAcked > maxAcked)) {
        maxAcked = result.maxAcked;
      }
      totalAcks += result.acks;
      const tornBytes = random() < 0.3 ? tearTail(directory, random) : 0;
      const checked = await recoverAndCheck(directory, epochStarts, checkRandom);
      assert.ok(checked.cutBytes >= tornBytes, 'recovery cuts the torn tail');
      if (maxAcked !== undefined) {
        assert.ok(
          checked.logEndOffset > maxAcked,
          `acknowledged up to ${maxAcked}, recovered up to ${checked.logEndOffset - 1n}`,
        );
      }
      assert.ok(checked.logEndOffset >= logEnd, 'recovery never loses what a check passed');
      logEnd = checked.logEndOffset;
      t.diagnostic(
        `round ${round}: killed ${result.moment} after ${result.killedAfterMs.toFixed(0)} ms, ` +
          `${result.acks} acks (up to ${result.maxAcked ?? '-'}), recovered log end ${logEnd}, ` +
          `${checked.segments} segments, ${checked.cutBytes} bytes cut (${tornBytes} torn by the test)`,
      );
    }
    t.diagnostic(`${totalAcks} acknowledged appends, log end ${logEnd}`);
  });
});
