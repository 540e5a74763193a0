/**
 * Kafka's round-robin assignor ("roundrobin"): every partition of every subscribed topic (topics
 * sorted by name, partitions in order) goes to the next member in Kafka's member order, skipping
 * members not subscribed to its topic. Equal subscriptions give counts within one of each other.
 */
import { comparePartitions } from '../types.ts';
import { type Assignor, compareMembers, compareStrings, emptyAssignment } from './assignor.ts';

export const roundRobinAssignor: Assignor = {
  name: 'roundrobin',
  supportedProtocols: ['eager'],
  assign(members, partitionsPerTopic) {
    const result = emptyAssignment(members);
    const ordered = [...members].sort(compareMembers);
    const subscribed = ordered.map((member) => new Set(member.subscription.topics));
    const topics = [...new Set(members.flatMap((member) => member.subscription.topics))].sort(
      compareStrings,
    );
    let next = 0;
    for (const topic of topics) {
      const count = partitionsPerTopic.get(topic);
      if (count === undefined || count <= 0) continue;
      for (let partition = 0; partition < count; partition++) {
        // Someone subscribes to every topic listed, so this stops within one lap.
        while (!subscribed[next]!.has(topic)) next = (next + 1) % ordered.length;
        result.get(ordered[next]!.memberId)!.push({ topic, partition });
        next = (next + 1) % ordered.length;
      }
    }
    for (const list of result.values()) list.sort(comparePartitions);
    return result;
  },
};
