/**
 * kafkajs (npm) consumer groups against Brook, in this process: three consumers share a topic,
 * one leaves and the others take over its partitions; the admin client describes and lists
 * groups, fetches committed offsets (lag against the log ends), sets offsets, and deletes the
 * group (refused while it has members).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import kafkajs, { type Consumer, Kafka } from 'kafkajs';
import { startTestBroker } from '../helpers.ts';
import { GROUP_BROKER_PROPERTIES, waitFor } from './groups-support.ts';

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
// CommonJS exports that Node's ESM loader does not detect by name.
const { AssignerProtocol, logLevel } = kafkajs;

const TOPIC = 'kj-group';
const GROUP = 'kj-group';
const PARTITIONS = 6;
const NON_EMPTY_GROUP = 68;

interface Seen {
  member: string;
  partition: number;
  offset: string;
  key: string;
  value: string;
}

/** A kafkajs consumer in the group, with what it was assigned and what it read. */
class Member {
  readonly name: string;
  readonly consumer: Consumer;
  readonly seen: Seen[] = [];
  assignment: number[] = [];
  memberId = '';
  generations = 0;

  constructor(kafka: Kafka, name: string) {
    this.name = name;
    this.consumer = kafka.consumer({
      groupId: GROUP,
      sessionTimeout: 6000,
      rebalanceTimeout: 10_000,
      heartbeatInterval: 300,
      maxWaitTimeInMs: 100,
      // A consumer that fails stays down (kafkajs restarts it forever by default, which would
      // keep a failed test's process alive).
      retry: { retries: 5, initialRetryTime: 100, restartOnFailure: async () => false },
    });
    this.consumer.on(this.consumer.events.GROUP_JOIN, ({ payload }) => {
      this.generations++;
      this.memberId = payload.memberId;
      this.assignment = [...(payload.memberAssignment[TOPIC] ?? [])].sort((a, b) => a - b);
    });
  }

  async start(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [TOPIC], fromBeginning: true });
    await this.consumer.run({
      eachMessage: async ({ partition, message }) => {
        this.seen.push({
          member: this.name,
          partition,
          offset: message.offset,
          key: message.key?.toString() ?? '',
          value: message.value?.toString() ?? '',
        });
      },
    });
  }
}

const complete = (members: readonly Member[]) => {
  const all = members.flatMap((m) => m.assignment).sort((a, b) => a - b);
  return (
    members.every((m) => m.assignment.length > 0) &&
    all.join() === Array.from({ length: PARTITIONS }, (_, p) => p).join()
  );
};
const describe = (members: readonly Member[]) =>
  members.map((m) => `${m.name}: [${m.assignment}] ${m.seen.length} read`).join('\n');

test('kafkajs consumer groups against Brook', { timeout: 90_000 }, async (t) => {
  const { bootstrap } = await startTestBroker(t, { properties: GROUP_BROKER_PROPERTIES });
  const kafka = new Kafka({
    clientId: 'brook-interop-kafkajs-groups',
    brokers: [bootstrap],
    logLevel: logLevel.NOTHING,
    retry: { retries: 3, initialRetryTime: 100 },
  });
  const admin = kafka.admin();
  await admin.connect();
  t.after(() => admin.disconnect());
  await admin.createTopics({
    waitForLeaders: true,
    topics: [{ topic: TOPIC, numPartitions: PARTITIONS }],
  });
  const producer = kafka.producer();
  await producer.connect();
  t.after(() => producer.disconnect());
  const members = ['a', 'b', 'c'].map((name) => new Member(kafka, name));
  t.after(async () => {
    // Bounded: a consumer of a failed test may be stuck rejoining.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(members.map((m) => m.consumer.disconnect().catch(() => {}))),
      new Promise((resolve) => {
        timer = setTimeout(resolve, 5000);
      }),
    ]);
    clearTimeout(timer);
  });
  const produced: { key: string; value: string }[] = [];
  const produce = async (label: string, count: number, partitioned = false) => {
    const messages = Array.from({ length: count }, (_, i) => ({
      key: `key-${label}-${i}`,
      value: `${label} ${i}`,
      ...(partitioned ? { partition: i % PARTITIONS } : {}),
    }));
    await producer.send({ topic: TOPIC, acks: -1, messages });
    produced.push(...messages);
  };
  const readAll = (who: readonly Member[], what: string) =>
    waitFor(
      `${what}: every produced record read`,
      () => {
        const seen = new Set(members.flatMap((m) => m.seen.map((s) => s.value)));
        return produced.every((p) => seen.has(p.value));
      },
      20_000,
      () => describe(who),
    );
  const committedOffsets = async () => {
    const [offsets] = await admin.fetchOffsets({ groupId: GROUP, topics: [TOPIC] });
    return offsets!.partitions
      .map(({ partition, offset }) => [partition, offset] as const)
      .sort((x, y) => x[0] - y[0]);
  };
  const logEnds = async () =>
    (await admin.fetchTopicOffsets(TOPIC))
      .map(({ partition, high }) => [partition, high] as const)
      .sort((x, y) => x[0] - y[0]);

  await t.test('three consumers share six partitions and read every record once', async () => {
    await Promise.all(members.map((m) => m.start()));
    await waitFor(
      'a complete, disjoint assignment',
      () => complete(members),
      20_000,
      () => describe(members),
    );
    assert.deepEqual(
      members.map((m) => m.assignment.length),
      [2, 2, 2],
      describe(members),
    );
    await produce('one', 300);
    await readAll(members, 'first batch');
    for (const m of members) {
      const foreign = m.seen.filter((s) => !m.assignment.includes(s.partition));
      assert.deepEqual(foreign, [], `${m.name} read partitions not its own`);
    }
    const all = members.flatMap((m) => m.seen);
    assert.equal(new Set(all.map((s) => s.value)).size, all.length, 'a record was read twice');
    assert.ok(
      all.every((s) => s.key === `key-${s.value.replace(' ', '-')}`),
      'keys and values',
    );
  });

  await t.test('admin: describeGroups, listGroups, fetchOffsets with lag', async () => {
    const { groups } = await admin.describeGroups([GROUP]);
    const [group] = groups;
    assert.deepEqual(
      [group?.state, group?.protocolType, group?.protocol, group?.members.length],
      ['Stable', 'consumer', 'RoundRobinAssigner', 3],
      JSON.stringify(group),
    );
    // Each member's assignment as the group stores it is what that consumer was given.
    for (const described of group!.members) {
      const member = members.find((m) => m.memberId === described.memberId);
      assert.ok(member, `described member ${described.memberId} is not one of ours`);
      const decoded = AssignerProtocol.MemberAssignment.decode(described.memberAssignment);
      assert.deepEqual(
        [...(decoded?.assignment[TOPIC] ?? [])].sort((a, b) => a - b),
        member.assignment,
        `${member.name}: described assignment`,
      );
    }
    const { groups: listed } = await admin.listGroups();
    assert.deepEqual(
      listed.filter((g) => g.groupId === GROUP),
      [{ groupId: GROUP, protocolType: 'consumer' }],
      'listGroups',
    );
    // kafkajs commits after each batch: once all is committed, the lag is 0 everywhere.
    let committed: (readonly [number, string])[] = [];
    let ends: (readonly [number, string])[] = [];
    const deadline = Date.now() + 10_000;
    do {
      committed = await committedOffsets();
      ends = await logEnds();
      if (JSON.stringify(committed) === JSON.stringify(ends)) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    } while (Date.now() < deadline);
    assert.deepEqual(committed, ends, 'committed offsets = log ends (lag 0)');
  });

  await t.test('a consumer that disconnects hands its partitions to the others', async () => {
    const [a, b, c] = members as [Member, Member, Member];
    const left = c.assignment;
    await c.consumer.disconnect();
    await waitFor(
      'a and b share every partition',
      () => complete([a, b]),
      20_000,
      () => describe([a, b]),
    );
    assert.ok(
      left.every((p) => a.assignment.includes(p) || b.assignment.includes(p)),
      'c’s partitions went to a and b',
    );
    const before = a.seen.length + b.seen.length;
    await produce('two', 120);
    await readAll([a, b], 'second batch');
    const all = members.flatMap((m) => m.seen);
    assert.equal(
      new Set(all.map((s) => `${s.partition}@${s.offset}`)).size,
      all.length,
      'a record was read twice: the partitions of c should resume at its commits',
    );
    assert.equal(a.seen.length + b.seen.length - before, 120, 'a and b read the second batch');
  });

  await t.test(
    'deleteGroups is refused while members remain; offsets can be set when empty',
    async () => {
      await assert.rejects(
        admin.deleteGroups([GROUP]),
        (error: { name?: string; groups?: { errorCode: number }[] }) => {
          assert.equal(error.name, 'KafkaJSDeleteGroupsError', String(error));
          assert.deepEqual(
            error.groups?.map((g) => g.errorCode),
            [NON_EMPTY_GROUP],
          );
          return true;
        },
        'deleteGroups of a group with members',
      );
      await Promise.all(members.map((m) => m.consumer.disconnect()));
      const { groups } = await admin.describeGroups([GROUP]);
      assert.deepEqual(
        [groups[0]?.state, groups[0]?.members.length],
        ['Empty', 0],
        'the group after every member left',
      );

      // Lag: records produced while nobody consumes.
      await produce('lag', 60, true);
      const committed = await committedOffsets();
      const ends = await logEnds();
      assert.deepEqual(
        ends.map(([p, end]) => [p, Number(end) - Number(committed[p]![1])]),
        Array.from({ length: PARTITIONS }, (_, p) => [p, 10]),
        'lag = log end − committed offset',
      );

      await admin.setOffsets({
        groupId: GROUP,
        topic: TOPIC,
        partitions: Array.from({ length: PARTITIONS }, (_, partition) => ({
          partition,
          offset: String(partition + 1),
        })),
      });
      assert.deepEqual(
        await committedOffsets(),
        Array.from({ length: PARTITIONS }, (_, p) => [p, String(p + 1)]),
        'offsets after setOffsets',
      );
      // setOffsets joins the group with a consumer of its own, seeks (commits) and leaves; it
      // waits for a fetch that kafkajs delays by its 5 s maxWaitTime while all is paused.
      // resetOffsets is setOffsets to -2 or -1, so it is not run again.
      await admin.deleteGroups([GROUP]);
      const { groups: listed } = await admin.listGroups();
      assert.deepEqual(
        listed.filter((g) => g.groupId === GROUP),
        [],
        'the group is gone from listGroups',
      );
      assert.deepEqual(
        await committedOffsets(),
        Array.from({ length: PARTITIONS }, (_, p) => [p, '-1']),
        'a deleted group has no committed offsets',
      );
      const [gone] = (await admin.describeGroups([GROUP])).groups;
      assert.equal(gone?.state, 'Dead', 'a deleted group is described as Dead');
    },
  );
});
