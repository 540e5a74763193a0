/**
 * Committed offsets survive a broker restart, clean (Broker.stop, then a new broker on the same
 * data directory) and unclean (`brook serve` killed with SIGKILL): a librdkafka consumer that
 * comes back to its group resumes at the committed offsets. And a group without offsets starts
 * where `auto.offset.reset` says: earliest reads everything, latest only what comes after it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { startTestBroker, type TestBroker } from '../helpers.ts';
import {
  describeGroup,
  GROUP_BROKER_PROPERTIES,
  GROUP_DRIVER,
  LibrdkafkaMember,
  type PartitionKey,
  type ProducedRecord,
  partitionKey,
  produceKeyed,
  recordId,
  waitForAssignment,
  waitForRecords,
} from './groups-support.ts';
import { clientTestOptions, missingPythonModule, pythonDriver, serve } from './support.ts';

const missing = missingPythonModule('confluent_kafka', 'python3-confluent-kafka');
const PARTITIONS = 3;
/** Sessions of 2 s, so a member that died with the broker is gone soon after the restart. */
const PROPERTIES = { ...GROUP_BROKER_PROPERTIES, 'group.min.session.timeout.ms': '1000' };
const SESSION = { 'session.timeout.ms': 2000 };

function endOffsets(records: readonly ProducedRecord[]): [PartitionKey, number][] {
  const ends = new Map<PartitionKey, number>();
  for (const r of records) {
    const key = partitionKey(r.topic, r.partition);
    ends.set(key, Math.max(ends.get(key) ?? 0, r.offset + 1));
  }
  return [...ends].sort(([a], [b]) => a.localeCompare(b));
}

async function committed(bootstrap: string, group: string, topic: string) {
  const call = pythonDriver(GROUP_DRIVER, bootstrap);
  const offsets = await call<[string, number, number, string | null][]>('committed', {
    group,
    partitions: Array.from({ length: PARTITIONS }, (_, p) => [topic, p]),
  });
  return offsets.map(([t, p, o]) => [partitionKey(t, p), o] as [PartitionKey, number]);
}

/** A member that reads what it is given, checked to be exactly `expected`. */
async function resumes(
  t: TestContext,
  bootstrap: string,
  group: string,
  topic: string,
  expected: readonly ProducedRecord[],
  config: Record<string, string | number> = {},
): Promise<LibrdkafkaMember> {
  const member = new LibrdkafkaMember(t, {
    name: `${group}-resumed`,
    bootstrap,
    group,
    topics: [topic],
    config: { ...SESSION, ...config },
  });
  await waitForAssignment(`${group} resumed`, [member], new Map([[topic, PARTITIONS]]), 20_000);
  await waitForRecords(`${group} resumed`, [member], expected);
  // Anything before the expected records would have come first.
  assert.deepEqual(
    member.records.map(recordId).sort(),
    expected.map(recordId).sort(),
    `${group}: what the resumed member reads`,
  );
  return member;
}

test('committed offsets survive broker restarts (confluent-kafka)', {
  ...clientTestOptions(missing),
  timeout: 90_000,
}, async (t) => {
  assert.equal(missing, undefined, missing);

  await t.test(
    'clean restart: a consumer resumes at the commits; earliest and latest without offsets',
    async (t) => {
      const dataDirectory = mkdtempSync(join(tmpdir(), 'brook-groups-restart-'));
      const brokers: TestBroker[] = [];
      t.after(async () => {
        // The brokers stop (stop is idempotent) before their directory goes.
        for (const broker of brokers) await broker.stop();
        rmSync(dataDirectory, { recursive: true, force: true });
      });
      const topic = 'restart';
      const group = 'restart-group';
      const first = await startTestBroker(t, { dataDirectory, properties: PROPERTIES });
      brokers.push(first);
      await pythonDriver(GROUP_DRIVER, first.bootstrap)('create_topics', {
        topics: [{ name: topic, partitions: PARTITIONS }],
      });
      const before = await produceKeyed(first.bootstrap, topic, 'before', 60);
      const member = new LibrdkafkaMember(t, {
        name: 'first',
        bootstrap: first.bootstrap,
        group,
        topics: [topic],
        config: SESSION,
      });
      await waitForRecords('before the commit', [member], before);
      const commits = await member.commit();
      assert.deepEqual([...commits].sort(), endOffsets(before), 'commits');
      // Read, not committed: read again after the restart.
      const uncommitted = await produceKeyed(first.bootstrap, topic, 'uncommitted', 30);
      await waitForRecords('after the commit', [member], uncommitted);
      await member.close();
      await first.stop();

      const second = await startTestBroker(t, { dataDirectory, properties: PROPERTIES });
      brokers.push(second);
      assert.deepEqual(
        await committed(second.bootstrap, group, topic),
        endOffsets(before),
        'committed offsets after the restart (OffsetFetch)',
      );
      const resumed = await resumes(t, second.bootstrap, group, topic, uncommitted);
      await resumed.close();

      // Groups without offsets: earliest reads from the log start, latest from the end.
      const all = [...before, ...uncommitted];
      const earliest = await resumes(t, second.bootstrap, 'restart-earliest', topic, all, {
        'auto.offset.reset': 'earliest',
      });
      const latest = new LibrdkafkaMember(t, {
        name: 'latest',
        bootstrap: second.bootstrap,
        group: 'restart-latest',
        topics: [topic],
        config: { ...SESSION, 'auto.offset.reset': 'latest', 'statistics.interval.ms': 100 },
      });
      await waitForAssignment('latest', [latest], new Map([[topic, PARTITIONS]]));
      // Once its positions are resolved (the log ends), new records are what it reads.
      let resolved = new Map<PartitionKey, number>();
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline) {
        resolved = await latest.positions();
        if (resolved.size === PARTITIONS && [...resolved.values()].every((o) => o >= 0)) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.deepEqual([...resolved].sort(), endOffsets(all), 'latest starts at the log ends');
      const after = await produceKeyed(second.bootstrap, topic, 'after', 15);
      await waitForRecords('latest', [latest], after);
      assert.deepEqual(
        latest.records.map(recordId).sort(),
        after.map(recordId).sort(),
        'latest reads only what was produced after it joined',
      );
      await Promise.all([earliest.close(), latest.close()]);
    },
  );

  await t.test(
    'SIGKILL: commits are kept, and the dead member leaves when its session expires',
    async (t) => {
      const dataDirectory = mkdtempSync(join(tmpdir(), 'brook-groups-sigkill-'));
      t.after(() => rmSync(dataDirectory, { recursive: true, force: true }));
      const topic = 'crash';
      const group = 'crash-group';
      const first = await serve(t, dataDirectory, PROPERTIES);
      await pythonDriver(GROUP_DRIVER, first.bootstrap)('create_topics', {
        topics: [{ name: topic, partitions: PARTITIONS }],
      });
      const before = await produceKeyed(first.bootstrap, topic, 'before', 60);
      const member = new LibrdkafkaMember(t, {
        name: 'doomed',
        bootstrap: first.bootstrap,
        group,
        topics: [topic],
        config: { 'session.timeout.ms': 4000 },
      });
      await waitForRecords('before the commit', [member], before);
      await member.commit();
      const uncommitted = await produceKeyed(first.bootstrap, topic, 'uncommitted', 30);
      await waitForRecords('after the commit', [member], uncommitted);
      // The broker dies with the member still in its group (Stable), then the member.
      first.child.kill('SIGKILL');
      assert.equal((await first.exited).signal, 'SIGKILL');
      await member.kill();

      const second = await serve(t, dataDirectory, PROPERTIES);
      // The group comes back as it was stored: Stable, with the member that died with the broker
      // (until its session expires).
      const loaded = await describeGroup(second.bootstrap, group);
      assert.deepEqual(
        [loaded.groupState, loaded.protocolData, loaded.members.map((m) => m.clientId)],
        ['Stable', 'range', ['doomed']],
        'the group after the restart',
      );
      assert.deepEqual(
        await committed(second.bootstrap, group, topic),
        endOffsets(before),
        `committed offsets after SIGKILL and restart\n${second.output()}`,
      );
      const resumed = await resumes(t, second.bootstrap, group, topic, uncommitted);
      await resumed.close();
      second.child.kill('SIGTERM');
      assert.equal((await second.exited).code, 0, `clean stop\n${second.output()}`);
    },
  );
});
