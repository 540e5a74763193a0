// DescribeConfigs: v0-4
// * Topic resources: every topic config with its value, read-only false, and (v1+) its source:
//   DYNAMIC_TOPIC_CONFIG for an override, else the source of the broker property it falls back to
//   (DYNAMIC_BROKER_CONFIG, DYNAMIC_DEFAULT_BROKER_CONFIG, STATIC_BROKER_CONFIG) or DEFAULT_CONFIG.
//   `include_synonyms` (v1+): the override, then the broker property's dynamic, static and default
//   values, as Kafka 3.9's ConfigHelper lists them (see config/config-resources.ts).
//   An illegal name is INVALID_TOPIC_EXCEPTION, an unknown topic UNKNOWN_TOPIC_OR_PARTITION.
// * Broker resources: the node id (as a string) lists every broker property Brook knows (read-only
//   except the dynamic log defaults); "" (the cluster default) lists the cluster-wide dynamic
//   configs that are set. Another id or a name that is not a number: INVALID_REQUEST.
// * `configuration_keys`: only those (null or empty: all); unknown names are left out.
// * v3+: config types (Kafka's ConfigType ids) and, with `include_documentation`, documentation.
// * v0 `is_default`: a broker config is default when its source is DEFAULT_CONFIG, a topic config
//   when the topic does not override it.
// * As in Kafka, a result without error carries the error message "" (the field's default).
// * Not implemented: BROKER_LOGGER (answered with no loggers: Brook has no log4j), CLIENT_METRICS
//   and GROUP resources (INVALID_REQUEST); authorization (no ACLs yet).
import {
  ApiKey,
  DescribeConfigsRequest,
  DescribeConfigsResponse,
  ErrorCode,
} from '@brook/protocol';
import { validateTopicName } from '../broker-context.ts';
import {
  ConfigResourceType,
  ConfigSource,
  type DescribedConfig,
  describeBrokerConfigs,
  describeTopicConfigs,
  parseBrokerResourceName,
} from '../config/config-resources.ts';
import { defineHandler } from './registry.ts';

export const describeConfigsHandler = defineHandler({
  apiKey: ApiKey.DescribeConfigs,
  minVersion: 0,
  maxVersion: 4,
  request: DescribeConfigsRequest,
  response: DescribeConfigsResponse,
  async handle(request, context) {
    const broker = context.broker;
    const version = context.apiVersion;
    const options = {
      includeSynonyms: version >= 1 && request.includeSynonyms,
      includeDocumentation: version >= 3 && request.includeDocumentation,
    };
    const sources = { config: broker.config, dynamic: broker.dynamicBrokerConfigs() };
    const entry = (config: DescribedConfig, isTopic: boolean) => ({
      name: config.name,
      value: config.value,
      readOnly: config.readOnly,
      ...(version === 0
        ? {
            isDefault: isTopic
              ? config.source !== ConfigSource.dynamicTopic
              : config.source === ConfigSource.default,
          }
        : {}),
      configSource: config.source,
      isSensitive: config.isSensitive,
      synonyms: config.synonyms,
      configType: config.configType,
      documentation: config.documentation,
    });
    const results = request.resources.map((resource) => {
      const base = { resourceType: resource.resourceType, resourceName: resource.resourceName };
      const failed = (errorCode: number, errorMessage: string | null) => ({
        ...base,
        errorCode,
        errorMessage,
        configs: [],
      });
      const describe = { ...options, keys: resource.configurationKeys };
      switch (resource.resourceType) {
        case ConfigResourceType.topic: {
          const name = resource.resourceName;
          const illegal = validateTopicName(name);
          if (illegal !== undefined) return failed(ErrorCode.INVALID_TOPIC_EXCEPTION, illegal);
          const topic = broker.metadata.topic(name);
          if (topic === undefined) return failed(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, '');
          const configs = describeTopicConfigs(
            { ...sources, overrides: topic.configs, effective: broker.topicLogConfig(name) },
            describe,
          );
          return {
            ...base,
            errorCode: ErrorCode.NONE,
            errorMessage: '',
            configs: configs.map((c) => entry(c, true)),
          };
        }
        case ConfigResourceType.broker: {
          const target = parseBrokerResourceName(resource.resourceName, broker.config.nodeId, {
            notInteger: 'Broker id must be an integer, but it is: ',
            unexpected: 'Unexpected broker id, expected {id} or empty string, but received {name}',
          });
          if ('errorCode' in target) return failed(target.errorCode, target.errorMessage);
          const configs = describeBrokerConfigs(sources, target.perBroker, describe);
          return {
            ...base,
            errorCode: ErrorCode.NONE,
            errorMessage: '',
            configs: configs.map((c) => entry(c, false)),
          };
        }
        case ConfigResourceType.brokerLogger: {
          if (resource.resourceName === '')
            return failed(ErrorCode.INVALID_REQUEST, 'Broker id must not be empty');
          const target = parseBrokerResourceName(resource.resourceName, broker.config.nodeId, {
            notInteger: 'Broker id must be an integer, but it is: ',
            unexpected: 'Unexpected broker id, expected {id} but received {name}',
          });
          if ('errorCode' in target) return failed(target.errorCode, target.errorMessage);
          return { ...base, errorCode: ErrorCode.NONE, errorMessage: '', configs: [] };
        }
        default:
          return failed(
            ErrorCode.INVALID_REQUEST,
            `Unsupported resource type: ${resource.resourceType}`,
          );
      }
    });
    return { throttleTimeMs: 0, results };
  },
});
