// IncrementalAlterConfigs: v0-1
// * Per config: SET, DELETE (back to the default), APPEND and SUBTRACT (list configs such as
//   cleanup.policy; from the default when unset; APPEND adds only values not there yet). Checks
//   and messages as Kafka 3.9 (see config/alter-configs.ts): INVALID_REQUEST for a resource or a
//   config named twice, a null value (except DELETE) or an unknown operation; INVALID_CONFIG for
//   APPEND/SUBTRACT of a config that is not a list, an unknown topic config or a bad value;
//   UNKNOWN_TOPIC_OR_PARTITION for a topic that does not exist. A topic's new settings are stored
//   in the metadata and apply to its logs at once.
// * Broker resources ("" for the cluster default, or this node's id): Brook applies the broker
//   defaults of topic configs (log.retention.ms, log.segment.bytes, ...), which then apply to
//   every topic without an override; any other broker property is read-only and refused with
//   INVALID_REQUEST ("Cannot update these configs dynamically: Set(...)").
// * BROKER_LOGGER: Brook has no log4j loggers, so any logger named is INVALID_CONFIG ("Logger x
//   does not exist!"), as Kafka answers for an unknown logger.
// * `validate_only`: every check, nothing changes.
// * Not implemented: authorization (no ACLs yet), alter config policies.
import {
  ApiKey,
  IncrementalAlterConfigsRequest,
  IncrementalAlterConfigsResponse,
} from '@brook/protocol';
import { alterConfigs } from '../config/alter-configs.ts';
import { defineHandler } from './registry.ts';

export const incrementalAlterConfigsHandler = defineHandler({
  apiKey: ApiKey.IncrementalAlterConfigs,
  minVersion: 0,
  maxVersion: 1,
  request: IncrementalAlterConfigsRequest,
  response: IncrementalAlterConfigsResponse,
  async handle(request, context) {
    const responses = await alterConfigs(context.broker, request.resources, {
      validateOnly: request.validateOnly,
      incremental: true,
    });
    return { throttleTimeMs: 0, responses };
  },
});
