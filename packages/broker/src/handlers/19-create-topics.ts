// CreateTopics: v0-7
// * Kafka's checks: name, existence and '.'/'_' collisions, partitions, replication factor (a
//   single node: at most 1), configs (INVALID_CONFIG says which and why); `validate_only`.
// * Manual replica assignments are accepted when they name only this broker.
// * v5+: the created topic's configs come back, with their source as DescribeConfigs gives it.
import {
  ApiKey,
  CreateTopicsRequest,
  CreateTopicsResponse,
  ErrorCode,
  ZERO_UUID,
} from '@brook/protocol';
import { parseLogConfig } from '@brook/storage';
import { describeTopicConfigs } from '../config/config-resources.ts';
import { defineHandler } from './registry.ts';

export const createTopicsHandler = defineHandler({
  apiKey: ApiKey.CreateTopics,
  minVersion: 0,
  maxVersion: 7,
  request: CreateTopicsRequest,
  response: CreateTopicsResponse,
  async handle(request, context) {
    const broker = context.broker;
    const seen = new Set<string>();
    const duplicates = new Set(
      request.topics.map((t) => t.name).filter((n) => seen.has(n) || !seen.add(n)),
    );
    const topics = [];
    for (const wanted of request.topics) {
      const base = {
        name: wanted.name,
        topicId: ZERO_UUID,
        numPartitions: -1,
        replicationFactor: -1,
        configs: null,
      };
      if (duplicates.has(wanted.name)) {
        topics.push({
          ...base,
          errorCode: ErrorCode.INVALID_REQUEST,
          errorMessage: `Create topics request from client contains a duplicate topic '${wanted.name}'`,
        });
        continue;
      }
      let partitions = wanted.numPartitions;
      let replicationFactor = wanted.replicationFactor;
      if (wanted.assignments.length > 0) {
        if (partitions !== -1 || replicationFactor !== -1) {
          topics.push({
            ...base,
            errorCode: ErrorCode.INVALID_REQUEST,
            errorMessage:
              'Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.',
          });
          continue;
        }
        const foreign = wanted.assignments.some((a) =>
          a.brokerIds.some((id) => id !== broker.config.nodeId),
        );
        if (foreign) {
          topics.push({
            ...base,
            errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT,
            errorMessage: 'Replica assignment names brokers that are not registered.',
          });
          continue;
        }
        partitions = wanted.assignments.length;
        replicationFactor = wanted.assignments[0]?.brokerIds.length ?? 1;
      }
      const configs: Record<string, string> = {};
      for (const entry of wanted.configs)
        if (entry.value !== null) configs[entry.name] = entry.value;
      const result = await broker.createTopic({
        name: wanted.name,
        partitions,
        replicationFactor,
        configs,
        validateOnly: request.validateOnly,
      });
      if (result.error || result.topic === undefined) {
        topics.push({
          ...base,
          errorCode: result.error?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR,
          errorMessage: result.error?.errorMessage ?? null,
        });
        continue;
      }
      const created = result.topic;
      const described = describeTopicConfigs(
        {
          config: broker.config,
          dynamic: broker.dynamicBrokerConfigs(),
          overrides: created.configs,
          // From the request's configs, so a validate-only answer shows them too.
          effective: parseLogConfig(created.configs, broker.brokerLogConfig()).config,
        },
        { keys: null, includeSynonyms: false, includeDocumentation: false },
      );
      topics.push({
        name: created.name,
        topicId: created.topicId,
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        numPartitions: created.partitionCount,
        replicationFactor: created.replicationFactor,
        configs: described.map((entry) => ({
          name: entry.name,
          value: entry.value,
          readOnly: entry.readOnly,
          configSource: entry.source,
          isSensitive: entry.isSensitive,
        })),
      });
    }
    return { throttleTimeMs: 0, topics };
  },
});
