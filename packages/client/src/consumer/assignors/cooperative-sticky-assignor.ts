/**
 * A sticky assignor for the cooperative protocol ("cooperative-sticky", KIP-429; the name Kafka's
 * clients use). It keeps every partition with the member that owns it (the owned partitions in
 * each subscription; a partition claimed by two members goes to the newer generation, and a
 * tie leaves it unowned), hands out the partitions nobody owns to the least loaded members that
 * subscribe to them, then moves partitions one at a time from the most loaded members to
 * members with at least two fewer until no move is possible. Equal subscriptions therefore end
 * balanced (counts within one), with as few partitions moved as balance needs.
 *
 * The cooperative part: a partition that moves from a current owner to another member is left
 * out of the new owner's assignment in this rebalance. Its owner sees it missing, revokes it
 * and rejoins, and the next rebalance gives it to the new owner, so no partition ever has two
 * consumers. The result is Brook's own; like any assignor's it only has to be computed by the
 * leader, so members of other clients can share the group.
 */
import {
  comparePartitions,
  type PartitionKey,
  partitionKey,
  type TopicPartition,
} from '../types.ts';
import { type Assignor, type AssignorMember, compareMembers, compareStrings } from './assignor.ts';

const NO_GENERATION = -1;

/** The generation a member's owned partitions are from: the v2+ field, else its user data. */
export function memberGeneration(member: AssignorMember): number {
  const subscription = member.subscription;
  if (subscription.version >= 2 && subscription.generationId !== NO_GENERATION) {
    return subscription.generationId;
  }
  const userData = subscription.userData;
  if (userData !== null && userData.length === 4) return userData.readInt32BE(0);
  return NO_GENERATION;
}

export const cooperativeStickyAssignor: Assignor = {
  name: 'cooperative-sticky',
  supportedProtocols: ['cooperative', 'eager'],
  subscriptionUserData({ generationId }) {
    // Kafka's clients before subscription v2 read the generation from here.
    const userData = Buffer.alloc(4);
    userData.writeInt32BE(generationId);
    return userData;
  },
  assign(members, partitionsPerTopic) {
    return stickyAssign(members, partitionsPerTopic, true);
  },
};

export function stickyAssign(
  members: readonly AssignorMember[],
  partitionsPerTopic: ReadonlyMap<string, number>,
  cooperative: boolean,
): Map<string, TopicPartition[]> {
  const ordered = [...members].sort(compareMembers);
  const rank = new Map(ordered.map((member, index) => [member.memberId, index]));
  const subscribed = new Map(
    ordered.map((member) => [
      member.memberId,
      new Set(
        member.subscription.topics.filter((topic) => (partitionsPerTopic.get(topic) ?? 0) > 0),
      ),
    ]),
  );
  const partitions = new Map<PartitionKey, TopicPartition>();
  const topics = [...new Set(ordered.flatMap((member) => [...subscribed.get(member.memberId)!]))];
  for (const topic of topics.sort(compareStrings)) {
    const count = partitionsPerTopic.get(topic)!;
    for (let partition = 0; partition < count; partition++) {
      partitions.set(partitionKey(topic, partition), { topic, partition });
    }
  }

  // Who owns what now: the newest generation wins a partition claimed twice; a tie, nobody.
  const owners = new Map<PartitionKey, { memberId: string; generation: number }>();
  const contested = new Set<PartitionKey>();
  const byGeneration = ordered
    .map((member) => ({ member, generation: memberGeneration(member) }))
    .sort((a, b) => b.generation - a.generation);
  for (const { member, generation } of byGeneration) {
    const topicsOfMember = subscribed.get(member.memberId)!;
    for (const owned of member.subscription.ownedPartitions) {
      const key = partitionKey(owned.topic, owned.partition);
      if (!partitions.has(key) || !topicsOfMember.has(owned.topic) || contested.has(key)) continue;
      const claim = owners.get(key);
      if (claim === undefined) {
        owners.set(key, { memberId: member.memberId, generation });
      } else if (claim.generation === generation && claim.memberId !== member.memberId) {
        owners.delete(key);
        contested.add(key);
      }
    }
  }

  const assigned = new Map<string, Set<PartitionKey>>(
    ordered.map((member) => [member.memberId, new Set()]),
  );
  for (const [key, owner] of owners) assigned.get(owner.memberId)!.add(key);
  const load = (memberId: string) => assigned.get(memberId)!.size;
  const leastLoaded = (topic: string, below: number, except?: string): string | undefined => {
    let best: string | undefined;
    for (const member of ordered) {
      const id = member.memberId;
      if (id === except || !subscribed.get(id)!.has(topic) || load(id) >= below) continue;
      if (best === undefined || load(id) < load(best)) best = id;
    }
    return best;
  };

  for (const [key, partition] of partitions) {
    if (owners.has(key)) continue;
    const member = leastLoaded(partition.topic, Number.POSITIVE_INFINITY);
    if (member !== undefined) assigned.get(member)!.add(key);
  }

  // Each move lowers the sum of squared loads, so this ends.
  for (;;) {
    const byLoad = [...ordered].sort(
      (a, b) =>
        load(b.memberId) - load(a.memberId) || rank.get(a.memberId)! - rank.get(b.memberId)!,
    );
    let moved = false;
    for (const from of byLoad) {
      const mine = assigned.get(from.memberId)!;
      // Partitions the member did not own before move first, then the highest ones.
      const candidates = [...mine].sort((a, b) => {
        const ownedA = owners.get(a)?.memberId === from.memberId ? 1 : 0;
        const ownedB = owners.get(b)?.memberId === from.memberId ? 1 : 0;
        return ownedA - ownedB || comparePartitions(partitions.get(b)!, partitions.get(a)!);
      });
      for (const key of candidates) {
        const to = leastLoaded(partitions.get(key)!.topic, mine.size - 1, from.memberId);
        if (to === undefined) continue;
        mine.delete(key);
        assigned.get(to)!.add(key);
        moved = true;
        break;
      }
      if (moved) break;
    }
    if (!moved) break;
  }

  const result = new Map<string, TopicPartition[]>();
  for (const member of ordered) {
    const keys = [...assigned.get(member.memberId)!].filter((key) => {
      const owner = owners.get(key)?.memberId;
      // Moving away from its current owner: only once that owner has given it up.
      return !cooperative || owner === undefined || owner === member.memberId;
    });
    result.set(member.memberId, keys.map((key) => partitions.get(key)!).sort(comparePartitions));
  }
  return result;
}
