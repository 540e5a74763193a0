// DeleteTopics: v0-6
// * By name (v0-5 `topic_names`, v6 `topics` with a name) or by topic id (v6+), as Kafka 3.9's
//   controller: an unknown name is UNKNOWN_TOPIC_OR_PARTITION, an unknown id UNKNOWN_TOPIC_ID, each
//   with Kafka's default message (v5+); malformed entries are refused one by one with
//   INVALID_REQUEST (a name and an id in one entry, neither, a duplicate name or id, a name whose
//   id is also given twice) while the others are carried out.
// * `delete.topic.enable=false`: every topic is refused, with TOPIC_DELETION_DISABLED (v3+) or
//   INVALID_REQUEST (v0-2), as Kafka does.
// * The deletion is done when the response is sent (metadata and partition directories removed),
//   so `timeout_ms` is not waited on. Results come in request order (Kafka shuffles them).
// * Not implemented: authorization (no ACLs yet), controller mutation quotas.
import {
  ApiKey,
  DeleteTopicsRequest,
  DeleteTopicsResponse,
  ErrorCode,
  kafkaErrorForCode,
  ZERO_UUID,
} from '@brook/protocol';
import { defineHandler } from './registry.ts';

interface Result {
  name: string | null;
  topicId: string;
  errorCode: number;
  errorMessage: string | null;
}

export const deleteTopicsHandler = defineHandler({
  apiKey: ApiKey.DeleteTopics,
  minVersion: 0,
  maxVersion: 6,
  request: DeleteTopicsRequest,
  response: DeleteTopicsResponse,
  async handle(request, context) {
    const broker = context.broker;
    const version = context.apiVersion;
    // v0-5 name topics in `topic_names`, v6 in `topics`.
    const entries: { name: string | null; topicId: string }[] =
      version >= 6
        ? request.topics.map((t) => ({ name: t.name, topicId: t.topicId }))
        : request.topicNames.map((name) => ({ name, topicId: ZERO_UUID }));
    if (!broker.config.deleteTopicEnable) {
      const errorCode = version < 3 ? ErrorCode.INVALID_REQUEST : ErrorCode.TOPIC_DELETION_DISABLED;
      return {
        throttleTimeMs: 0,
        responses: entries.map((e) => ({
          name: e.name,
          topicId: e.topicId,
          errorCode,
          errorMessage: null,
        })),
      };
    }
    const results: Result[] = [];
    const fail = (name: string | null, topicId: string, errorCode: number, message?: string) =>
      results.push({
        name,
        topicId,
        errorCode,
        errorMessage: message ?? kafkaErrorForCode(errorCode).message,
      });

    // Names and ids as given; duplicates are refused, not deleted.
    const names: string[] = [];
    const duplicateNames = new Set<string>();
    const ids: string[] = [];
    const duplicateIds = new Set<string>();
    const addName = (name: string) => {
      if (names.includes(name)) duplicateNames.add(name);
      else if (!duplicateNames.has(name)) names.push(name);
    };
    for (const entry of entries) {
      if (entry.name === null) {
        if (entry.topicId === ZERO_UUID) {
          fail(
            null,
            ZERO_UUID,
            ErrorCode.INVALID_REQUEST,
            'Neither topic name nor id were specified.',
          );
        } else if (ids.includes(entry.topicId)) duplicateIds.add(entry.topicId);
        else if (!duplicateIds.has(entry.topicId)) ids.push(entry.topicId);
      } else if (entry.topicId === ZERO_UUID) {
        addName(entry.name);
      } else {
        fail(
          entry.name,
          entry.topicId,
          ErrorCode.INVALID_REQUEST,
          'You may not specify both topic name and topic id.',
        );
      }
    }
    for (const name of duplicateNames) {
      fail(name, ZERO_UUID, ErrorCode.INVALID_REQUEST, 'Duplicate topic name.');
    }
    for (const id of duplicateIds) {
      fail(null, id, ErrorCode.INVALID_REQUEST, 'Duplicate topic id.');
    }

    // Resolve both to topics: id -> name of what is deleted.
    const toDelete = new Map<string, string>();
    for (const name of names) {
      if (duplicateNames.has(name)) continue;
      const topic = broker.metadata.topic(name);
      if (topic === undefined) {
        fail(name, ZERO_UUID, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      } else if (duplicateIds.has(topic.topicId)) {
        fail(
          name,
          ZERO_UUID,
          ErrorCode.INVALID_REQUEST,
          'The provided topic name maps to an ID that was already supplied.',
        );
      } else {
        toDelete.set(topic.topicId, name);
      }
    }
    for (const id of ids) {
      if (duplicateIds.has(id)) continue;
      const topic = broker.metadata.topicById(id);
      // A topic named both by its name and by its id is deleted once.
      if (topic === undefined) fail(null, id, ErrorCode.UNKNOWN_TOPIC_ID);
      else toDelete.set(id, topic.name);
    }

    for (const [topicId, name] of toDelete) {
      await broker.exclusive(() => broker.deleteTopic(name));
      results.push({ name, topicId, errorCode: ErrorCode.NONE, errorMessage: null });
    }

    // Request order: results for entries as they were asked for, the rest after.
    const order = (result: Result) => {
      const index = entries.findIndex(
        (e) =>
          (result.name !== null && e.name === result.name) ||
          (result.topicId !== ZERO_UUID && e.topicId === result.topicId),
      );
      return index < 0 ? entries.length : index;
    };
    results.sort((a, b) => order(a) - order(b));
    return {
      throttleTimeMs: 0,
      responses: results.map((r) => ({
        // v0-5 key results by a non-null name.
        name: version < 6 ? (r.name ?? '') : r.name,
        topicId: r.topicId,
        errorCode: r.errorCode,
        errorMessage: r.errorMessage,
      })),
    };
  },
});
