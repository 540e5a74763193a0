/**
 * confluent-kafka (librdkafka) consumer groups against Brook: each member is a Consumer in a
 * process of its own (groups-confluent-kafka-driver.py), so one can be closed cleanly or
 * killed with SIGKILL. Covered: a group of three sharing a topic, the hand-over of a member's
 * partitions when it leaves (LeaveGroup) and when its session expires, resuming at committed
 * offsets; the range, roundrobin and cooperative-sticky assignors; static membership; and
 * the admin calls confluent-kafka 1.7 has for groups.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startTestBroker } from '../helpers.ts';
import {
  assertRecordsMatch,
  describeMembers,
  GROUP_BROKER_PROPERTIES,
  GROUP_DRIVER,
  LibrdkafkaMember,
  type PartitionKey,
  type ProducedRecord,
  partitionKey,
  produceKeyed,
  readCounts,
  recordId,
  waitFor,
  waitForAssignment,
  waitForRecords,
} from './groups-support.ts';
import { clientTestOptions, missingPythonModule, pythonDriver } from './support.ts';

const missing = missingPythonModule('confluent_kafka', 'python3-confluent-kafka');

interface ListedGroup {
  id: string;
  error: string | null;
  state: string;
  protocol_type: string;
  protocol: string;
  members: {
    id: string;
    client_id: string;
    client_host: string;
    assignment_bytes: number;
    metadata_bytes: number;
  }[];
}

/** Per partition, the offset after the last of `records` (what a consumer of all commits). */
function endOffsets(records: readonly ProducedRecord[]): Map<PartitionKey, number> {
  const ends = new Map<PartitionKey, number>();
  for (const r of records) {
    const key = partitionKey(r.topic, r.partition);
    ends.set(key, Math.max(ends.get(key) ?? 0, r.offset + 1));
  }
  return ends;
}

const sortedEntries = <V>(map: ReadonlyMap<string, V>) =>
  [...map].sort(([a], [b]) => a.localeCompare(b));

const partitionsOf = (member: LibrdkafkaMember) =>
  member.assignment.map((key) => Number(key.split('/')[1])).sort((a, b) => a - b);

test('confluent-kafka consumer groups against Brook', {
  ...clientTestOptions(missing),
  timeout: 120_000,
}, async (t) => {
  assert.equal(missing, undefined, missing);
  const { bootstrap } = await startTestBroker(t, { properties: GROUP_BROKER_PROPERTIES });
  const call = pythonDriver(GROUP_DRIVER, bootstrap);
  const topicNames = ['g-main', 'g-strategies', 'g-static', 'g-admin'];
  await call('create_topics', {
    topics: topicNames.map((name) => ({ name, partitions: name === 'g-admin' ? 4 : 6 })),
  });
  const listGroups = (group?: string) => call<ListedGroup[]>('list_groups', { group });

  await t.test(
    'three members share six partitions; a leaving and a killed member hand over at their commits',
    async (t) => {
      const topic = 'g-main';
      const topics = new Map([[topic, 6]]);
      const member = (name: string) =>
        new LibrdkafkaMember(t, {
          name,
          bootstrap,
          group: topic,
          topics: [topic],
          config: { 'partition.assignment.strategy': 'range', 'session.timeout.ms': 6000 },
        });
      const [a, b, c] = [member('a'), member('b'), member('c')] as const;
      await waitForAssignment('three members', [a, b, c], topics);
      assert.deepEqual(
        [a, b, c].map((m) => m.assignment.length),
        [2, 2, 2],
        `range gives each of three members two of six partitions\n${describeMembers([a, b, c])}`,
      );
      const [listed] = await listGroups(topic);
      assert.equal(listed?.state, 'Stable', JSON.stringify(listed));
      assert.equal(listed?.protocol, 'range');
      assert.deepEqual(
        listed?.members.map((m) => [m.client_id, m.assignment_bytes > 0]),
        [
          ['a', true],
          ['b', true],
          ['c', true],
        ],
        'DescribeGroups: the three members, each with an assignment',
      );

      // Every record is read once, by the member that owns its partition.
      const one = await produceKeyed(bootstrap, topic, 'one', 300);
      assert.equal(
        new Set(one.map((r) => r.partition)).size,
        6,
        'keyed records spread over all partitions',
      );
      await waitForRecords('first batch', [a, b, c], one);
      for (const m of [a, b, c]) {
        const foreign = m.records.filter(
          (r) => !m.assignment.includes(partitionKey(r.topic, r.partition)),
        );
        assert.deepEqual(foreign.map(recordId), [], `${m.name} read partitions not its own`);
      }
      assert.ok(
        [...readCounts([...a.records, ...b.records, ...c.records]).values()].every((n) => n === 1),
        'a record of the first batch was read twice',
      );
      const committed = new Map([
        ...(await a.commit()),
        ...(await b.commit()),
        ...(await c.commit()),
      ]);
      assert.deepEqual(sortedEntries(committed), sortedEntries(endOffsets(one)), 'commits');

      // b leaves (LeaveGroup on close): a and c get its partitions and resume at its commits.
      const leftPartitions = [...b.assignment];
      await b.close();
      await waitForAssignment('after b left', [a, c], topics);
      const two = await produceKeyed(bootstrap, topic, 'two', 150);
      await waitForRecords('second batch', [a, c], two);
      const all = () => [...a.records, ...b.records, ...c.records];
      assert.deepEqual(
        [...readCounts(all())].filter(([, n]) => n > 1).map(([id]) => id),
        [],
        `records read twice after b left (its partitions ${leftPartitions.join(' ')} should resume at its commits)`,
      );

      // c is killed after a commit of a's only: after c's session timeout, a gets c's
      // partitions and reads again exactly what c read after its last commit.
      await a.commit();
      const killedPartitions = [...c.assignment];
      const aBefore = a.records.length;
      const killedAt = Date.now();
      await c.kill();
      await waitForAssignment('after c was killed', [a], topics, 20_000);
      const tookMs = Date.now() - killedAt;
      assert.ok(
        tookMs >= 5000 && tookMs < 15_000,
        `c's partitions moved ${tookMs} ms after the kill: its 6 s session should expire first`,
      );
      t.diagnostic(`c's partitions moved to a ${tookMs} ms after SIGKILL`);
      const uncommitted = two.filter((r) =>
        killedPartitions.includes(partitionKey(r.topic, r.partition)),
      );
      assert.ok(uncommitted.length > 0, 'c read records after its last commit');
      await waitForRecords('c’s records after its last commit, again', [a], uncommitted);
      const again = a.records.slice(aBefore);
      assert.deepEqual(
        again.map(recordId).sort(),
        uncommitted.map(recordId).sort(),
        'a reads again exactly what c read after its last commit, from c’s committed offsets',
      );

      const three = await produceKeyed(bootstrap, topic, 'three', 60);
      await waitForRecords('third batch', [a], three);
      await a.close();
      const produced = [...one, ...two, ...three];
      assertRecordsMatch(all(), produced);
      const duplicated = [...readCounts(all())]
        .filter(([, n]) => n > 1)
        .map(([id]) => id)
        .sort();
      assert.deepEqual(duplicated, uncommitted.map(recordId).sort(), 'the records read twice');
      const [empty] = await listGroups(topic);
      assert.deepEqual([empty?.state, empty?.members.length], ['Empty', 0], 'the group at the end');
    },
  );

  await t.test(
    'range, roundrobin and cooperative-sticky give complete, disjoint assignments',
    async (t) => {
      const topic = 'g-strategies';
      const topics = new Map([[topic, 6]]);
      const group = (strategy: string, names: string[]) =>
        names.map(
          (name) =>
            new LibrdkafkaMember(t, {
              name,
              bootstrap,
              group: `g-${strategy}`,
              topics: [topic],
              config: { 'partition.assignment.strategy': strategy },
            }),
        );
      const range = group('range', ['r1', 'r2', 'r3']);
      const roundrobin = group('roundrobin', ['rr1', 'rr2', 'rr3']);
      const cooperative = group('cooperative-sticky', ['cs1', 'cs2', 'cs3']);
      await Promise.all([
        waitForAssignment('range', range, topics),
        waitForAssignment('roundrobin', roundrobin, topics),
        waitForAssignment('cooperative-sticky', cooperative, topics),
      ]);
      // range: consecutive pairs; roundrobin: every third partition.
      assert.deepEqual(
        range.map(partitionsOf).sort((x, y) => x[0]! - y[0]!),
        [
          [0, 1],
          [2, 3],
          [4, 5],
        ],
        `range\n${describeMembers(range)}`,
      );
      assert.deepEqual(
        roundrobin.map(partitionsOf).sort((x, y) => x[0]! - y[0]!),
        [
          [0, 3],
          [1, 4],
          [2, 5],
        ],
        `roundrobin\n${describeMembers(roundrobin)}`,
      );
      assert.deepEqual(
        cooperative.map((m) => m.assignment.length),
        [2, 2, 2],
        `cooperative-sticky balances\n${describeMembers(cooperative)}`,
      );
      const groups = await listGroups();
      const protocolOf = (id: string) => groups.find((g) => g.id === id)?.protocol;
      assert.deepEqual(
        ['g-range', 'g-roundrobin', 'g-cooperative-sticky'].map(protocolOf),
        ['range', 'roundrobin', 'cooperative-sticky'],
        'the protocol each group chose (DescribeGroups)',
      );

      // A fourth member joins the cooperative group: the others keep what they do not give it,
      // and only partitions that move are revoked (no stop-the-world revocation).
      const before = cooperative.map((m) => [...m.assignment]);
      const eventsBefore = cooperative.map((m) => m.events.length);
      const [cs4] = group('cooperative-sticky', ['cs4']);
      const four = [...cooperative, cs4!];
      await waitForAssignment('cooperative-sticky with a fourth member', four, topics);
      await waitFor(
        'the fourth member holds its share',
        () => cs4!.assignment.length >= 1 && isBalanced(four),
        10_000,
        () => describeMembers(four),
      );
      const allRevoked: PartitionKey[] = [];
      cooperative.forEach((m, i) => {
        const kept = m.assignment;
        assert.ok(
          kept.every((p) => before[i]!.includes(p)),
          `${m.name} got partitions it did not have: ${kept} (had ${before[i]})`,
        );
        const revoked = m.events
          .slice(eventsBefore[i])
          .filter((e) => e.ev === 'revoke' || e.ev === 'lost')
          .flatMap((e) => e.partitions!.map(([t, p]) => partitionKey(t, p)));
        assert.deepEqual(
          revoked.filter((p) => kept.includes(p)),
          [],
          `${m.name} had partitions revoked that it kept (eager, not incremental)\n${m.describe()}`,
        );
        allRevoked.push(...revoked);
      });
      assert.deepEqual(
        allRevoked.sort(),
        [...cs4!.assignment].sort(),
        `the partitions revoked are those the new member got\n${describeMembers(four)}`,
      );
      t.diagnostic(
        `cooperative-sticky: ${before.map((b) => b.join(',')).join(' | ')} → ${four.map((m) => m.assignment.join(',')).join(' | ')}`,
      );

      // The fourth leaves (LeaveGroup): its partitions go back, nobody else revokes anything.
      const held = cooperative.map((m) => [...m.assignment]);
      const eventsHeld = cooperative.map((m) => m.events.length);
      await cs4!.close();
      await waitForAssignment('cooperative-sticky after the fourth left', cooperative, topics);
      cooperative.forEach((m, i) => {
        assert.ok(
          held[i]!.every((p) => m.assignment.includes(p)),
          `${m.name} lost partitions when the fourth left: ${m.assignment} (had ${held[i]})`,
        );
        assert.deepEqual(
          m.events.slice(eventsHeld[i]).filter((e) => e.ev === 'revoke' || e.ev === 'lost'),
          [],
          `${m.name}: revocations when the fourth left`,
        );
      });
      await Promise.all([...range, ...roundrobin, ...cooperative].map((m) => m.close()));
    },
  );

  await t.test(
    'a static member (group.instance.id) that restarts within its session gets its partitions back without a rebalance',
    async (t) => {
      const topic = 'g-static';
      const topics = new Map([[topic, 6]]);
      const member = (name: string) =>
        new LibrdkafkaMember(t, {
          name,
          bootstrap,
          group: topic,
          topics: [topic],
          // The session only needs to outlast a restart (under load too); nothing waits for it.
          config: { 'group.instance.id': `static-${name}`, 'session.timeout.ms': 10_000 },
        });
      const members = [member('a'), member('b'), member('c')];
      await waitForAssignment('three static members', members, topics);
      const [stable] = await listGroups(topic);
      // Each restarts in turn (one of them leads the group: its restart is covered too).
      for (const [i, name] of ['b', 'a', 'c'].entries()) {
        const index = members.findIndex((m) => m.name === name);
        const old = members[index]!;
        const others = members.filter((m) => m !== old);
        const seen = others.map((m) => m.events.length);
        const partitions = [...old.assignment];
        const [before] = await listGroups(topic);
        // A static member sends no LeaveGroup on close: the group keeps it and stays Stable.
        await old.close();
        const [without] = await listGroups(topic);
        assert.deepEqual(
          [without?.state, without?.members.map((m) => m.id)],
          [before?.state, before?.members.map((m) => m.id)],
          `the group while ${name} is down: unchanged`,
        );
        const restarted = member(name);
        members[index] = restarted;
        await waitFor(
          `${name} restarted gets an assignment`,
          () => restarted.events.some((e) => e.ev === 'assign'),
          8000,
          () => restarted.describe(),
          [restarted],
        );
        assert.deepEqual(restarted.assignment, partitions, `${name} restarted: its partitions`);
        // The others saw nothing: no revoke, no assignment (an eager rebalance revokes all).
        await new Promise((resolve) => setTimeout(resolve, i === 2 ? 1000 : 300));
        assert.deepEqual(
          others.map((m, j) => m.events.slice(seen[j]).filter((e) => e.ev !== 'records')),
          [[], []],
          `events of the other members while ${name} restarted`,
        );
        const [after] = await listGroups(topic);
        assert.deepEqual(
          [after?.state, after?.members.map((m) => m.client_id)],
          ['Stable', ['a', 'b', 'c']],
          `the group after ${name} restarted`,
        );
        assert.deepEqual(
          after?.members
            .filter((m) => !before?.members.some((s) => s.id === m.id))
            .map((m) => m.client_id),
          [name],
          `only ${name} has a new member id`,
        );
      }
      assert.ok(
        (await listGroups(topic))[0]?.members.every(
          (m) => !stable?.members.some((s) => s.id === m.id),
        ),
        'every member has a new member id',
      );
      // The restarted members read and commit in the generation they rejoined.
      const produced = await produceKeyed(bootstrap, topic, 'static', 60);
      await waitForRecords('after the restarts', members, produced);
      for (const m of members) await m.commit();
      await Promise.all(members.map((m) => m.close()));
    },
  );

  await t.test(
    'admin: list_groups, committed offsets, and setting offsets of an empty group',
    async (t) => {
      const topic = 'g-admin';
      const group = 'g-admin';
      const topics = new Map([[topic, 4]]);
      const member = (name: string) =>
        new LibrdkafkaMember(t, { name, bootstrap, group, topics: [topic] });
      const members = [member('x'), member('y')];
      await waitForAssignment('two members', members, topics);
      const produced = await produceKeyed(bootstrap, topic, 'admin', 80);
      await waitForRecords('admin topic', members, produced);
      for (const m of members) await m.commit();
      const partitions = [0, 1, 2, 3].map((p) => [topic, p]);
      const committed = await call<[string, number, number, string | null][]>('committed', {
        group,
        partitions,
      });
      assert.deepEqual(
        committed.map(([t, p, o]) => [partitionKey(t, p), o]),
        sortedEntries(endOffsets(produced)),
        'committed offsets (OffsetFetch)',
      );

      const all = await listGroups();
      const listed = all.find((g) => g.id === group);
      assert.deepEqual(
        [listed?.state, listed?.protocol_type, listed?.protocol, listed?.members.length],
        ['Stable', 'consumer', 'range', 2],
        JSON.stringify(listed),
      );
      assert.ok(
        listed!.members.every((m) => m.metadata_bytes > 0 && m.assignment_bytes > 0),
        'members have subscription metadata and an assignment',
      );

      // Setting offsets from outside is refused while the group has members.
      const refused = await call<{ error?: string; code?: string }>('commit_offsets', {
        group,
        offsets: [[topic, 0, 1]],
      });
      assert.equal(refused.code, 'UNKNOWN_MEMBER_ID', JSON.stringify(refused));

      await Promise.all(members.map((m) => m.close()));
      const [empty] = await listGroups(group);
      assert.deepEqual([empty?.state, empty?.members.length], ['Empty', 0]);
      const set = await call<{ offsets?: [string, number, number, string | null][] }>(
        'commit_offsets',
        { group, offsets: partitions.map(([t, p]) => [t, p, 5]) },
      );
      assert.deepEqual(
        set.offsets?.map(([, p, o, e]) => [p, o, e]),
        [0, 1, 2, 3].map((p) => [p, 5, null]),
        JSON.stringify(set),
      );
      // A member joining now starts at the offsets set.
      const z = member('z');
      await waitForAssignment('z alone', [z], topics);
      const expected = produced.filter((r) => r.offset >= 5);
      await waitForRecords('from the offsets set', [z], expected);
      assert.equal(
        Math.min(...z.records.map((r) => r.offset)),
        5,
        'z starts at offset 5 everywhere',
      );
      assert.equal(z.records.length, expected.length, 'z reads each record from offset 5 once');
      await z.close();
      // confluent-kafka 1.7 (Debian) has no list_consumer_groups, describe_consumer_groups,
      // list/alter_consumer_group_offsets or delete_consumer_groups (they came in 1.9 and
      // 2.0): list_groups, Consumer.committed and a group-less commit stand in above; the
      // kafkajs and kafka-python tests delete groups.
    },
  );
});

function isBalanced(members: readonly LibrdkafkaMember[]): boolean {
  const sizes = members.map((m) => m.assignment.length);
  return Math.max(...sizes) - Math.min(...sizes) <= 1;
}
