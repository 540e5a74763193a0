/**
 * The assignors on fixed inputs: range and round-robin give Kafka's results (the examples of
 * Kafka's own documentation of RangeAssignor and RoundRobinAssignor, mixed subscriptions, and
 * the member order with static members); cooperative-sticky keeps owned partitions, balances,
 * and holds back partitions that change owner. Also the consumer protocol's member metadata.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Writer } from '@brook/protocol';
import { stickyAssign } from '../src/consumer/assignors/cooperative-sticky-assignor.ts';
import {
  type Assignor,
  type AssignorMember,
  cooperativeStickyAssignor,
  decodeAssignment,
  decodeSubscription,
  encodeAssignment,
  encodeSubscription,
  rangeAssignor,
  roundRobinAssignor,
  type TopicPartition,
} from '../src/index.ts';

function member(
  memberId: string,
  topics: string[],
  options: { instance?: string; owned?: TopicPartition[]; generation?: number } = {},
): AssignorMember {
  return {
    memberId,
    groupInstanceId: options.instance ?? null,
    subscription: {
      version: 3,
      topics,
      userData: null,
      ownedPartitions: options.owned ?? [],
      generationId: options.generation ?? -1,
      rackId: null,
    },
  };
}

/** "t0p1"-style names per member, for compact expectations. */
function run(
  assignor: Assignor,
  members: AssignorMember[],
  partitions: Record<string, number>,
): Record<string, string[]> {
  const result = assignor.assign(members, new Map(Object.entries(partitions)));
  return Object.fromEntries(
    [...result].map(([id, list]) => [id, list.map((tp) => `${tp.topic}p${tp.partition}`)]),
  );
}

const tp = (topic: string, partition: number): TopicPartition => ({ topic, partition });

describe('range assignor', () => {
  it("gives Kafka's documented result for two members and two topics", () => {
    assert.deepEqual(
      run(rangeAssignor, [member('C1', ['t0', 't1']), member('C0', ['t0', 't1'])], {
        t0: 3,
        t1: 3,
      }),
      {
        C0: ['t0p0', 't0p1', 't1p0', 't1p1'],
        C1: ['t0p2', 't1p2'],
      },
    );
  });

  it('assigns each topic among its own subscribers only', () => {
    const members = [
      member('consumer1', ['topic1']),
      member('consumer2', ['topic1', 'topic2']),
      member('consumer3', ['topic1']),
    ];
    assert.deepEqual(run(rangeAssignor, members, { topic1: 3, topic2: 2 }), {
      consumer1: ['topic1p0'],
      consumer2: ['topic1p1', 'topic2p0', 'topic2p1'],
      consumer3: ['topic1p2'],
    });
  });

  it('orders static members by instance id, before dynamic ones', () => {
    const members = [
      member('c-z', ['t']),
      member('c-a', ['t'], { instance: 'i-1' }),
      member('c-b', ['t'], { instance: 'i-0' }),
    ];
    assert.deepEqual(run(rangeAssignor, members, { t: 5 }), {
      'c-z': ['tp4'],
      'c-a': ['tp2', 'tp3'],
      'c-b': ['tp0', 'tp1'],
    });
  });

  it('skips topics that do not exist and leaves extra members empty', () => {
    assert.deepEqual(
      run(rangeAssignor, [member('a', ['t', 'gone']), member('b', ['t'])], { t: 1 }),
      {
        a: ['tp0'],
        b: [],
      },
    );
  });
});

describe('round-robin assignor', () => {
  it("gives Kafka's documented result for equal subscriptions", () => {
    assert.deepEqual(
      run(roundRobinAssignor, [member('C0', ['t0', 't1']), member('C1', ['t0', 't1'])], {
        t0: 3,
        t1: 3,
      }),
      {
        C0: ['t0p0', 't0p2', 't1p1'],
        C1: ['t0p1', 't1p0', 't1p2'],
      },
    );
  });

  it("gives Kafka's documented result for different subscriptions", () => {
    const members = [
      member('C2', ['t0', 't1', 't2']),
      member('C0', ['t0']),
      member('C1', ['t0', 't1']),
    ];
    assert.deepEqual(run(roundRobinAssignor, members, { t0: 1, t1: 2, t2: 3 }), {
      C2: ['t1p1', 't2p0', 't2p1', 't2p2'],
      C0: ['t0p0'],
      C1: ['t1p0'],
    });
  });

  it('follows instance ids, so static members keep their partitions across new member ids', () => {
    const before = run(
      roundRobinAssignor,
      [
        member('C0', ['t0', 't1'], { instance: 'I0' }),
        member('C1', ['t0', 't1'], { instance: 'I1' }),
        member('C2', ['t0', 't1'], { instance: 'I2' }),
      ],
      { t0: 3, t1: 3 },
    );
    const after = run(
      roundRobinAssignor,
      [
        member('C5', ['t0', 't1'], { instance: 'I0' }),
        member('C3', ['t0', 't1'], { instance: 'I1' }),
        member('C4', ['t0', 't1'], { instance: 'I2' }),
      ],
      { t0: 3, t1: 3 },
    );
    assert.deepEqual(before, { C0: ['t0p0', 't1p0'], C1: ['t0p1', 't1p1'], C2: ['t0p2', 't1p2'] });
    assert.deepEqual(after, { C5: ['t0p0', 't1p0'], C3: ['t0p1', 't1p1'], C4: ['t0p2', 't1p2'] });
  });
});

describe('cooperative-sticky assignor', () => {
  it('balances a new group', () => {
    const result = run(
      cooperativeStickyAssignor,
      [member('a', ['t']), member('b', ['t']), member('c', ['t'])],
      { t: 6 },
    );
    assert.deepEqual(
      Object.values(result).map((list) => list.length),
      [2, 2, 2],
    );
    assert.equal(new Set(Object.values(result).flat()).size, 6);
  });

  it('keeps owned partitions and holds back the ones that change owner', () => {
    const all = [0, 1, 2, 3, 4, 5].map((p) => tp('t', p));
    const first = run(
      cooperativeStickyAssignor,
      [member('a', ['t'], { owned: all, generation: 1 }), member('b', ['t'])],
      { t: 6 },
    );
    // a keeps three of its partitions; the three it gives up go to b only in the next round.
    assert.equal(first.a!.length, 3);
    assert.deepEqual(first.b, []);
    const kept = first.a!.map((name) => tp('t', Number(name.slice(2))));
    const second = run(
      cooperativeStickyAssignor,
      [member('a', ['t'], { owned: kept, generation: 2 }), member('b', ['t'], { generation: 2 })],
      { t: 6 },
    );
    assert.deepEqual(second.a, first.a);
    assert.equal(second.b!.length, 3);
    assert.equal(new Set([...second.a!, ...second.b!]).size, 6);
  });

  it('moves as little as balance needs when a member leaves', () => {
    const owned = {
      a: [tp('t', 0), tp('t', 1)],
      b: [tp('t', 2), tp('t', 3)],
      c: [tp('t', 4), tp('t', 5)],
    };
    const result = run(
      cooperativeStickyAssignor,
      [
        member('a', ['t'], { owned: owned.a, generation: 4 }),
        member('b', ['t'], { owned: owned.b, generation: 4 }),
      ],
      { t: 6 },
    );
    assert.deepEqual(result.a!.slice(0, 2), ['tp0', 'tp1']);
    assert.deepEqual(result.b!.slice(0, 2), ['tp2', 'tp3']);
    assert.equal(result.a!.length + result.b!.length, 6);
    assert.equal(Math.abs(result.a!.length - result.b!.length), 0);
  });

  it('gives a doubly claimed partition to the newer generation, and a tie to nobody', () => {
    const newer = stickyAssign(
      [
        member('a', ['t'], { owned: [tp('t', 0)], generation: 3 }),
        member('b', ['t'], { owned: [tp('t', 0)], generation: 2 }),
      ],
      new Map([['t', 2]]),
      true,
    );
    assert.deepEqual(newer.get('a'), [tp('t', 0)]);
    assert.deepEqual(newer.get('b'), [tp('t', 1)]);
    const tie = stickyAssign(
      [
        member('a', ['t'], { owned: [tp('t', 0)], generation: 3 }),
        member('b', ['t'], { owned: [tp('t', 0)], generation: 3 }),
      ],
      new Map([['t', 2]]),
      true,
    );
    assert.equal((tie.get('a')?.length ?? 0) + (tie.get('b')?.length ?? 0), 2);
  });

  it('always gives a valid assignment, balanced for equal subscriptions (random inputs)', () => {
    let seed = 42;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let round = 0; round < 300; round++) {
      const topics = Array.from({ length: 1 + random(4) }, (_, i) => `t${i}`);
      const counts = new Map(topics.map((t) => [t, 1 + random(8)]));
      const uniform = random(2) === 0;
      const members = Array.from({ length: 1 + random(6) }, (_, i) => {
        const subscribed = uniform ? topics : topics.filter(() => random(2) === 0);
        const owned = subscribed.flatMap((t) =>
          Array.from({ length: counts.get(t)! }, (_, p) => tp(t, p)).filter(() => random(3) === 0),
        );
        return member(`m${i}`, subscribed.length > 0 ? subscribed : [topics[0]!], {
          owned,
          generation: random(3),
        });
      });
      const result = stickyAssign(members, counts, false);
      const seen = new Set<string>();
      for (const m of members) {
        for (const partition of result.get(m.memberId)!) {
          const key = `${partition.topic}/${partition.partition}`;
          assert.ok(!seen.has(key), `${key} twice`);
          seen.add(key);
          assert.ok(m.subscription.topics.includes(partition.topic));
        }
      }
      const subscribedTopics = new Set(members.flatMap((m) => m.subscription.topics));
      const total = [...subscribedTopics].reduce((sum, t) => sum + counts.get(t)!, 0);
      assert.equal(seen.size, total, 'every partition assigned');
      if (uniform) {
        const sizes = members.map((m) => result.get(m.memberId)!.length);
        assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `unbalanced ${sizes}`);
      }
    }
  });
});

describe('consumer protocol member metadata', () => {
  it('round-trips subscriptions at every version', () => {
    for (const version of [0, 1, 2, 3]) {
      const bytes = encodeSubscription(
        {
          topics: ['b', 'a'],
          userData: Buffer.from([1, 2]),
          ownedPartitions: [tp('a', 1), tp('a', 0), tp('b', 2)],
          generationId: 7,
          rackId: 'r1',
        },
        version,
      );
      const decoded = decodeSubscription(bytes);
      assert.equal(decoded.version, version);
      assert.deepEqual(decoded.topics, ['a', 'b']);
      assert.deepEqual([...(decoded.userData ?? [])], [1, 2]);
      assert.deepEqual(
        decoded.ownedPartitions,
        version >= 1 ? [tp('a', 0), tp('a', 1), tp('b', 2)] : [],
      );
      assert.equal(decoded.generationId, version >= 2 ? 7 : -1);
      assert.equal(decoded.rackId, version >= 3 ? 'r1' : null);
    }
  });

  it('reads a newer version as the newest it knows, and an empty assignment as none', () => {
    const bytes = encodeSubscription({
      topics: ['x'],
      userData: null,
      ownedPartitions: [],
      generationId: 1,
      rackId: null,
    });
    const newer = Buffer.concat([bytes, Buffer.from([0, 0, 0, 9])]);
    newer.writeInt16BE(4, 0);
    assert.deepEqual(decodeSubscription(newer).topics, ['x']);
    assert.deepEqual(decodeAssignment(Buffer.alloc(0)).partitions, []);
    const assignment = decodeAssignment(encodeAssignment([tp('y', 1), tp('x', 0)], null, 1));
    assert.deepEqual(assignment.partitions, [tp('x', 0), tp('y', 1)]);
    const writer = new Writer();
    writer.writeInt16(-1);
    assert.throws(() => decodeSubscription(writer.toBuffer()));
  });
});
