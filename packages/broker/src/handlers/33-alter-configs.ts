// AlterConfigs: v0-2 (legacy; IncrementalAlterConfigs is the one to use)
// * Replaces the whole set of a resource's configs: a topic's overrides not named are removed.
//   Checks and messages as Kafka 3.9 (see config/alter-configs.ts): INVALID_REQUEST for a resource
//   or a config named twice and for null values; INVALID_CONFIG with the reason for an unknown
//   topic config or a bad value; UNKNOWN_TOPIC_OR_PARTITION for a topic that does not exist.
//   The new settings apply to the topic's logs at once.
// * Broker resources ("" for the cluster default, or this node's id): Brook applies the broker
//   defaults of topic configs (log.retention.ms, log.segment.bytes, ...), which then apply to
//   every topic without an override; any other broker property is read-only and refused with
//   INVALID_REQUEST ("Cannot update these configs dynamically: Set(...)").
// * `validate_only`: every check, nothing changes.
// * Not implemented: authorization (no ACLs yet), alter config policies.
import { AlterConfigsRequest, AlterConfigsResponse, ApiKey } from '@brook/protocol';
import { alterConfigs } from '../config/alter-configs.ts';
import { defineHandler } from './registry.ts';

export const alterConfigsHandler = defineHandler({
  apiKey: ApiKey.AlterConfigs,
  minVersion: 0,
  maxVersion: 2,
  request: AlterConfigsRequest,
  response: AlterConfigsResponse,
  async handle(request, context) {
    const responses = await alterConfigs(context.broker, request.resources, {
      validateOnly: request.validateOnly,
      incremental: false,
    });
    return { throttleTimeMs: 0, responses };
  },
});
