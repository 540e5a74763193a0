// Metadata: v0-12
// * v0: an empty topic list means every topic; v1+: null means every topic, empty means none.
// * Auto-creation when `auto.create.topics.enable` and (v4+) `allow_auto_topic_creation`.
// * v10+: topics by id. Authorized operations are not computed (no ACLs yet): INT32_MIN.
import { ApiKey, ErrorCode, MetadataRequest, MetadataResponse, ZERO_UUID } from '@brook/protocol';
import { CONSUMER_OFFSETS_TOPIC, validateTopicName } from '../broker-context.ts';
import type { TopicMetadata } from '../metadata/metadata-store.ts';
import { defineHandler } from './registry.ts';

const AUTHORIZED_OPERATIONS_OMITTED = -2147483648;

export const metadataHandler = defineHandler({
  apiKey: ApiKey.Metadata,
  minVersion: 0,
  maxVersion: 12,
  request: MetadataRequest,
  response: MetadataResponse,
  async handle(request, context) {
    const broker = context.broker;
    const { config, metadata } = broker;
    const version = context.apiVersion;
    const describe = (topic: TopicMetadata) => ({
      errorCode: ErrorCode.NONE,
      name: topic.name,
      topicId: topic.topicId,
      isInternal: topic.isInternal || topic.name === CONSUMER_OFFSETS_TOPIC,
      partitions: Array.from({ length: topic.partitionCount }, (_, partitionIndex) => ({
        errorCode: ErrorCode.NONE,
        partitionIndex,
        leaderId: config.nodeId,
        leaderEpoch: 0,
        replicaNodes: [config.nodeId],
        isrNodes: [config.nodeId],
        offlineReplicas: [],
      })),
      topicAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
    });
    const all = request.topics === null || (version === 0 && request.topics.length === 0);
    const topics = [];
    if (all) {
      for (const topic of metadata.topics()) topics.push(describe(topic));
    } else {
      const autoCreate =
        config.autoCreateTopicsEnable && (version < 4 || request.allowAutoTopicCreation);
      for (const wanted of request.topics ?? []) {
        if (wanted.name === null) {
          const byId = metadata.topicById(wanted.topicId);
          topics.push(
            byId
              ? describe(byId)
              : {
                  errorCode: ErrorCode.UNKNOWN_TOPIC_ID,
                  name: null,
                  topicId: wanted.topicId,
                  isInternal: false,
                  partitions: [],
                },
          );
          continue;
        }
        const name = wanted.name;
        let topic = metadata.topic(name);
        let errorCode: number = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
        if (topic === undefined && validateTopicName(name) !== undefined) {
          errorCode = ErrorCode.INVALID_TOPIC_EXCEPTION;
        } else if (topic === undefined && autoCreate) {
          const error = await broker.autoCreateTopic(name);
          if (error) errorCode = error.errorCode;
          topic = metadata.topic(name);
        }
        topics.push(
          topic
            ? describe(topic)
            : { errorCode, name, topicId: ZERO_UUID, isInternal: false, partitions: [] },
        );
      }
    }
    return {
      throttleTimeMs: 0,
      brokers: [
        {
          nodeId: config.nodeId,
          host: config.advertisedHost,
          port: config.advertisedPort,
          rack: null,
        },
      ],
      clusterId: metadata.clusterId,
      controllerId: config.nodeId,
      topics,
      clusterAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
    };
  },
});
