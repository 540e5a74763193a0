// CreatePartitions: v0-3
// * Raises a topic's partition count, with Kafka 3.9's controller checks and messages: unknown
//   topic (UNKNOWN_TOPIC_OR_PARTITION), a count that is not an increase (INVALID_PARTITIONS),
//   duplicate topics (INVALID_REQUEST), manual assignments (one per new partition, naming only
//   registered brokers, each once, as many as the topic's replication factor:
//   INVALID_REPLICA_ASSIGNMENT). On a single node the only registered broker is this one.
// * More than 10000 new partitions in one request is refused with POLICY_VIOLATION (Brook's bound;
//   Kafka's controller bounds a request's records too).
// * `validate_only`: the same checks, nothing changes. The new partitions' logs exist when the
//   response is sent, so `timeout_ms` is not waited on.
// * Not implemented: authorization (no ACLs yet), controller mutation quotas.
import {
  ApiKey,
  CreatePartitionsRequest,
  CreatePartitionsResponse,
  ErrorCode,
} from '@brook/protocol';
import type { BrokerContext } from '../broker-context.ts';
import type { ApiError } from '../config/config-resources.ts';
import { defineHandler } from './registry.ts';

/** Brook's bound on the partitions one request may add. */
const MAX_NEW_PARTITIONS = 10_000;

function check(
  broker: BrokerContext,
  wanted: { name: string; count: number; assignments: { brokerIds: number[] }[] | null },
): ApiError | undefined {
  const topic = broker.metadata.topic(wanted.name);
  if (topic === undefined)
    return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: null };
  const current = topic.partitionCount;
  if (wanted.count === current) {
    return {
      errorCode: ErrorCode.INVALID_PARTITIONS,
      errorMessage: `Topic already has ${current} partition(s).`,
    };
  }
  if (wanted.count < current) {
    return {
      errorCode: ErrorCode.INVALID_PARTITIONS,
      errorMessage: `The topic ${wanted.name} currently has ${current} partition(s); ${wanted.count} would not be an increase.`,
    };
  }
  const additional = wanted.count - current;
  if (wanted.assignments !== null && wanted.assignments.length !== additional) {
    return {
      errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT,
      errorMessage: `Attempted to add ${additional} additional partition(s), but only ${wanted.assignments.length} assignment(s) were specified.`,
    };
  }
  if (additional > MAX_NEW_PARTITIONS) {
    return {
      errorCode: ErrorCode.POLICY_VIOLATION,
      errorMessage: 'Excessively large number of partitions per request.',
    };
  }
  for (const assignment of wanted.assignments ?? []) {
    if (assignment.brokerIds.length === 0) {
      return {
        errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT,
        errorMessage: 'The manual partition assignment includes an empty replica list.',
      };
    }
    const sorted = [...assignment.brokerIds].sort((a, b) => a - b);
    let previous: number | undefined;
    for (const id of sorted) {
      if (id !== broker.config.nodeId) {
        return {
          errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT,
          errorMessage: `The manual partition assignment includes broker ${id}, but no such broker is registered.`,
        };
      }
      if (id === previous) {
        return {
          errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT,
          errorMessage: `The manual partition assignment includes the broker ${id} more than once.`,
        };
      }
      previous = id;
    }
    if (sorted.length !== topic.replicationFactor) {
      return {
        errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT,
        errorMessage: `The manual partition assignment includes a partition with ${sorted.length} replica(s), but this is not consistent with previous partitions, which have ${topic.replicationFactor} replica(s).`,
      };
    }
  }
  return undefined;
}

export const createPartitionsHandler = defineHandler({
  apiKey: ApiKey.CreatePartitions,
  minVersion: 0,
  maxVersion: 3,
  request: CreatePartitionsRequest,
  response: CreatePartitionsResponse,
  async handle(request, context) {
    const broker = context.broker;
    const seen = new Set<string>();
    const duplicates = new Set(
      request.topics.map((t) => t.name).filter((n) => seen.has(n) || !seen.add(n)),
    );
    const results: { name: string; errorCode: number; errorMessage: string | null }[] = [];
    for (const name of duplicates) {
      results.push({
        name,
        errorCode: ErrorCode.INVALID_REQUEST,
        errorMessage: 'Duplicate topic name.',
      });
    }
    for (const wanted of request.topics) {
      if (duplicates.has(wanted.name)) continue;
      const error = await broker.exclusive(async () => {
        const failure = check(broker, wanted);
        if (failure === undefined && !request.validateOnly) {
          await broker.createPartitions(wanted.name, wanted.count);
        }
        return failure;
      });
      results.push({
        name: wanted.name,
        errorCode: error?.errorCode ?? ErrorCode.NONE,
        errorMessage: error?.errorMessage ?? null,
      });
    }
    return { throttleTimeMs: 0, results };
  },
});
