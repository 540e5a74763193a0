/**
 * Kafka's range assignor ("range"), its default: topic by topic, the members subscribed to the
 * topic in Kafka's member order (static members by instance id, then by member id) each take a
 * contiguous range of partitions; the first `partitions % members` take one more. Topics are
 * independent, so with several topics the first members get the extra partition of each.
 */
import { addTo, comparePartitions, type TopicPartition } from '../types.ts';
import { type Assignor, type AssignorMember, compareMembers, emptyAssignment } from './assignor.ts';

export const rangeAssignor: Assignor = {
  name: 'range',
  supportedProtocols: ['eager'],
  assign(members, partitionsPerTopic) {
    const result = emptyAssignment(members);
    const membersByTopic = new Map<string, AssignorMember[]>();
    for (const member of members) {
      for (const topic of new Set(member.subscription.topics)) {
        addTo(membersByTopic, topic, member);
      }
    }
    for (const [topic, subscribers] of membersByTopic) {
      const count = partitionsPerTopic.get(topic);
      if (count === undefined || count <= 0) continue;
      subscribers.sort(compareMembers);
      const each = Math.floor(count / subscribers.length);
      const withExtra = count % subscribers.length;
      subscribers.forEach((member, index) => {
        const start = each * index + Math.min(index, withExtra);
        const length = each + (index < withExtra ? 1 : 0);
        const list = result.get(member.memberId)!;
        for (let partition = start; partition < start + length; partition++) {
          list.push({ topic, partition });
        }
      });
    }
    for (const list of result.values()) list.sort(comparePartitions);
    return result satisfies Map<string, TopicPartition[]>;
  },
};
