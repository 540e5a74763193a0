/**
 * A broker killed with SIGKILL in the middle of a produce run loses no acknowledged record.
 *
 * `brook serve` runs as a child process (this Node, packages/cli/src/main.js) on a free port.
 * Producer lanes (kafkajs, acks=all, no retries, so nothing is written twice) keep sending
 * small batches to a topic whose flush policy is durable (flush.messages=1: every append is
 * fsynced before it is acknowledged) and note each acknowledged record's offset. Once enough
 * are acknowledged the broker gets SIGKILL while requests are in flight; it restarts on the
 * same data directory, and every acknowledged record must be at its offset, with nothing
 * duplicated and no gap; the log takes new records after the last one.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import kafkajs, { Kafka } from 'kafkajs';
import { readPartitions } from './platformatic-reader.ts';
import { serve } from './support.ts';

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
const { CompressionTypes, logLevel } = kafkajs;

const TOPIC = 'crash';
const PARTITIONS = 3;
const LANES = 6;
const BATCH = 5;
/** Acknowledged records before the kill (or 8 s, on a slow disk). */
const KILL_AFTER = 300;
/** Fewer acknowledged than this at the kill and the run proves little. */
const AT_LEAST = 25;

function client(bootstrap: string) {
  return new Kafka({
    clientId: 'brook-interop-sigkill',
    brokers: [bootstrap],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1000,
    requestTimeout: 3000,
    retry: { retries: 0 },
  });
}

interface Acked {
  partition: number;
  offset: bigint;
  key: string;
  value: string;
}

test('a broker killed with SIGKILL mid-run keeps every acknowledged record', async (t) => {
  const dataDirectory = mkdtempSync(join(tmpdir(), 'brook-sigkill-'));
  t.after(() => rmSync(dataDirectory, { recursive: true, force: true }));
  const first = await serve(t, dataDirectory);

  const kafka = client(first.bootstrap);
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      {
        topic: TOPIC,
        numPartitions: PARTITIONS,
        configEntries: [{ name: 'flush.messages', value: '1' }],
      },
    ],
  });
  await admin.disconnect();

  const producer = kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
  await producer.connect();
  const acked: Acked[] = [];
  const failures: string[] = [];
  let inFlight = 0;
  let inFlightAtKill = -1;
  let killed = false;
  const kill = () => {
    if (killed) return;
    killed = true;
    inFlightAtKill = inFlight;
    first.child.kill('SIGKILL');
  };
  const killTimer = setTimeout(kill, 8000);
  const lane = async (lane: number) => {
    for (let seq = 0; ; seq++) {
      const partition = (lane + seq) % PARTITIONS;
      const messages = Array.from({ length: BATCH }, (_, j) => ({
        partition,
        key: `lane-${lane}`,
        value: `lane-${lane} batch-${seq} record-${j}`,
      }));
      inFlight++;
      try {
        const [metadata] = await producer.send({
          topic: TOPIC,
          acks: -1,
          compression: seq % 2 === 0 ? CompressionTypes.None : CompressionTypes.GZIP,
          messages,
        });
        assert.equal(metadata?.errorCode, 0, `send error ${metadata?.errorCode}`);
        const base = BigInt(metadata?.baseOffset ?? '-1');
        messages.forEach((m, j) => {
          acked.push({ partition, offset: base + BigInt(j), key: m.key, value: m.value });
        });
      } catch (error) {
        // The broker died: whatever was not acknowledged may or may not be in the log.
        failures.push(`lane ${lane}: ${(error as Error).message}`);
        if (!killed) throw error;
        return;
      } finally {
        inFlight--;
      }
      if (acked.length >= KILL_AFTER) kill();
    }
  };
  const lanes = await Promise.allSettled(Array.from({ length: LANES }, (_, l) => lane(l)));
  clearTimeout(killTimer);
  await producer.disconnect().catch(() => {});
  const crashed = await first.exited;
  assert.equal(crashed.signal, 'SIGKILL', `the broker should die of SIGKILL:\n${first.output()}`);
  assert.deepEqual(
    lanes
      .filter((l) => l.status === 'rejected')
      .map((l) => String((l as PromiseRejectedResult).reason)),
    [],
    `lanes failed before the kill:\n${first.output()}`,
  );
  assert.ok(acked.length >= AT_LEAST, `only ${acked.length} records acknowledged before the kill`);
  assert.ok(inFlightAtKill > 0, 'no produce request was in flight at the kill');

  const second = await serve(t, dataDirectory);
  assert.match(second.output(), /"recovered":true/, 'the restart should recover an unclean log');
  const read = await readPartitions(second.bootstrap, TOPIC);
  const stored = new Map(read.records.map((r) => [`${r.partition}@${r.offset}`, r]));
  const lost = acked.filter((a) => {
    const record = stored.get(`${a.partition}@${a.offset}`);
    return record?.key?.toString() !== a.key || record?.value?.toString() !== a.value;
  });
  assert.deepEqual(
    lost.slice(0, 10).map((a) => `p${a.partition}@${a.offset} ${a.value}`),
    [],
    `${lost.length} of ${acked.length} acknowledged records are missing or different after the restart\n${second.output()}`,
  );
  // No gap (the reader checks contiguity per batch) and nothing written twice.
  for (let partition = 0; partition < PARTITIONS; partition++) {
    const offsets = read.records.filter((r) => r.partition === partition).map((r) => r.offset);
    assert.deepEqual(
      offsets,
      offsets.map((_, i) => BigInt(i)),
      `partition ${partition}: offsets 0.. without a gap`,
    );
  }
  const values = read.records.map((r) => r.value?.toString());
  assert.equal(new Set(values).size, values.length, 'a record is in the log twice');

  // The recovered log takes new records right after its last one.
  const again = client(second.bootstrap).producer({ allowAutoTopicCreation: false });
  await again.connect();
  const [after] = await again.send({
    topic: TOPIC,
    acks: -1,
    messages: [{ partition: 0, value: 'after the restart' }],
  });
  await again.disconnect();
  assert.equal(after?.baseOffset, String(read.highWatermark.get(0)), 'offset after the restart');

  second.child.kill('SIGTERM');
  const stopped = await second.exited;
  assert.equal(stopped.code, 0, `brook serve should stop cleanly on SIGTERM:\n${second.output()}`);
  t.diagnostic(
    `${acked.length} acknowledged before SIGKILL with ${inFlightAtKill} sends in flight; ` +
      `${read.records.length} in the log after the restart; ${failures.length} sends failed`,
  );
});
