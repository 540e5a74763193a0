/**
 * kafka-python (Debian's python3-kafka 2.0.2) consumer groups against Brook, through
 * groups-kafka-python-driver.py: a KafkaConsumer with a group id reads every record and
 * commits; KafkaAdminClient lists and describes the group, lists its offsets, and deletes it
 * (refused while the consumer is in it).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { startTestBroker } from '../helpers.ts';
import { GROUP_BROKER_PROPERTIES } from './groups-support.ts';
import { clientTestOptions, missingPythonModule, pythonDriver } from './support.ts';

const missing = missingPythonModule('kafka', 'python3-kafka');
const TOPIC = 'kp-group';
const GROUP = 'kp-group';
const PARTITIONS = 4;
const COUNT = 120;

interface Described {
  error_code: number;
  state: string;
  protocol_type: string;
  protocol: string;
  members: { client_id: string; subscription: string[] | null; assignment: [string, number][] }[];
}

interface Scenario {
  records: [number, number, string, string][];
  assignment: [string, number][];
  committed: [string, number, number][];
  while_member: {
    listed: [string, string][];
    described: Described;
    offsets: [string, number, number][];
    delete: [string, string][];
  };
  after_close: {
    described: Described;
    offsets: [string, number, number][];
    delete: [string, string][];
  };
  after_delete: {
    listed: [string, string][];
    described: Described;
    offsets: [string, number, number][];
  };
}

test('kafka-python consumer groups against Brook', {
  ...clientTestOptions(missing),
  timeout: 60_000,
}, async (t) => {
  assert.equal(missing, undefined, missing);
  const { bootstrap } = await startTestBroker(t, { properties: GROUP_BROKER_PROPERTIES });
  const call = pythonDriver(join(import.meta.dirname, 'groups-kafka-python-driver.py'), bootstrap);
  const delivered = await call<[number, number][]>('setup', {
    topic: TOPIC,
    partitions: PARTITIONS,
    count: COUNT,
  });
  assert.equal(new Set(delivered.map(([p]) => p)).size, PARTITIONS, 'records on every partition');
  const ends = Array.from({ length: PARTITIONS }, (_, p) => [
    TOPIC,
    p,
    delivered.filter(([partition]) => partition === p).length,
  ]);
  const all = Array.from({ length: PARTITIONS }, (_, p) => [TOPIC, p]);
  const result = await call<Scenario>('group_scenario', {
    topic: TOPIC,
    group: GROUP,
    expect: COUNT,
  });

  await t.test('a KafkaConsumer with a group id reads every record once and commits', () => {
    assert.deepEqual(result.assignment, all, 'the only member is assigned every partition');
    assert.deepEqual(
      result.records.map(([p, o, k, v]) => `${p}@${o} ${k}=${v}`).sort(),
      delivered.map(([p, o], i) => `${p}@${o} key-${i}=value ${i}`).sort(),
      'the records read',
    );
    assert.deepEqual(result.committed, ends, 'committed offsets (consumer.committed)');
  });

  await t.test('KafkaAdminClient while the consumer is in the group', () => {
    const seen = result.while_member;
    assert.ok(
      seen.listed.some(([g, type]) => g === GROUP && type === 'consumer'),
      `list_consumer_groups: ${JSON.stringify(seen.listed)}`,
    );
    assert.deepEqual(
      [seen.described.error_code, seen.described.state, seen.described.protocol_type],
      [0, 'Stable', 'consumer'],
      JSON.stringify(seen.described),
    );
    assert.deepEqual(
      seen.described.members.map((m) => [m.client_id, m.subscription, m.assignment]),
      [['brook-interop-kafka-python-groups', [TOPIC], all]],
      'describe_consumer_groups: the member, its subscription and assignment',
    );
    assert.deepEqual(seen.offsets, ends, 'list_consumer_group_offsets');
    assert.deepEqual(seen.delete, [[GROUP, 'NonEmptyGroupError']], 'delete_consumer_groups');
  });

  await t.test('KafkaAdminClient after the consumer closed (LeaveGroup)', () => {
    const closed = result.after_close;
    assert.deepEqual(
      [closed.described.state, closed.described.members],
      ['Empty', []],
      'describe_consumer_groups after close',
    );
    assert.deepEqual(closed.offsets, ends, 'offsets outlive the members');
    assert.deepEqual(closed.delete, [[GROUP, 'NoError']], 'delete_consumer_groups');
    const deleted = result.after_delete;
    assert.deepEqual(
      deleted.listed.filter(([g]) => g === GROUP),
      [],
      'list_consumer_groups after delete',
    );
    assert.equal(deleted.described.state, 'Dead', 'a deleted group is described as Dead');
    assert.deepEqual(deleted.offsets, [], 'a deleted group has no offsets');
  });
});
