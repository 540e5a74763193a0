/**
 * AlterConfigs (legacy: a resource's whole set of configs is replaced) and
 * IncrementalAlterConfigs (SET, DELETE, APPEND, SUBTRACT per config) share everything but how the
 * new set is computed. The checks and their order are those of Kafka 3.9, where a broker
 * pre-checks a request and forwards it to the controller:
 *
 * 1. The broker: a resource named twice ("Each resource must appear at most once."), a config
 *    named twice ("Error due to duplicate config keys"), a null value ("Null value not supported
 *    for : a, b"; DELETE may have one), an unknown operation or resource type: INVALID_REQUEST.
 *    A broker resource must be "" or this node's id, and may change only dynamic configs with
 *    valid values (INVALID_REQUEST, as Kafka's broker answers).
 * 2. The controller, for a topic: APPEND/SUBTRACT of a config that is not a list, the name ("" is
 *    "Default topic resources are not allowed."), the new set of configs (INVALID_CONFIG with the
 *    reason), then that the topic exists ("The topic 'x' does not exist.").
 *
 * Changes are applied one resource at a time (each is atomic); `validate_only` runs every check
 * and changes nothing.
 */
import { ErrorCode } from '@brook/protocol';
import { type BrokerContext, validateTopicName } from '../broker-context.ts';
import {
  ALTER_CONFIG_OP_NAMES,
  AlterConfigOp,
  type ApiError,
  applyAlterConfigOp,
  ConfigResourceType,
  isBrokerListConfig,
  isTopicListConfig,
  parseBrokerResourceName,
  validateDynamicBrokerConfigs,
  validateTopicConfigs,
} from './config-resources.ts';

export interface AlterableConfig {
  readonly name: string;
  readonly value: string | null;
  /** IncrementalAlterConfigs' operation; undefined for legacy AlterConfigs (replace all). */
  readonly configOperation?: number;
}

export interface AlterResource {
  readonly resourceType: number;
  readonly resourceName: string;
  readonly configs: readonly AlterableConfig[];
}

export interface AlterResult extends ApiError {
  readonly resourceType: number;
  readonly resourceName: string;
}

const NONE: ApiError = { errorCode: ErrorCode.NONE, errorMessage: null };

const invalidRequest = (errorMessage: string): ApiError => ({
  errorCode: ErrorCode.INVALID_REQUEST,
  errorMessage,
});

/** The new configs of a resource from its current ones, or the error that stops the change. */
type Change = (current: Readonly<Record<string, string>>) => Record<string, string> | ApiError;

function isError(value: Record<string, string> | ApiError): value is ApiError {
  return typeof (value as { errorCode?: unknown }).errorCode === 'number';
}

/** The broker's pre-checks of one resource (step 1). */
function precheck(resource: AlterResource, incremental: boolean): ApiError | undefined {
  const names = resource.configs.map((c) => c.name);
  if (new Set(names).size !== names.length)
    return invalidRequest('Error due to duplicate config keys');
  const nulls = resource.configs
    .filter((c) => c.value === null && c.configOperation !== AlterConfigOp.delete)
    .map((c) => c.name);
  if (nulls.length > 0) return invalidRequest(`Null value not supported for : ${nulls.join(', ')}`);
  if (incremental) {
    const unknown = resource.configs.find(
      (c) => ALTER_CONFIG_OP_NAMES[c.configOperation ?? -1] === undefined,
    );
    if (unknown) return invalidRequest(`Unknown operations type ${unknown.configOperation}`);
  }
  return undefined;
}

function change(
  resource: AlterResource,
  incremental: boolean,
  listCheck: (name: string, op: number) => ApiError | undefined,
): Change {
  return (current) => {
    if (!incremental) {
      const next: Record<string, string> = {};
      for (const config of resource.configs) next[config.name] = config.value ?? '';
      return next;
    }
    const next = { ...current };
    for (const config of resource.configs) {
      const op = config.configOperation ?? AlterConfigOp.set;
      if (op === AlterConfigOp.append || op === AlterConfigOp.subtract) {
        const error = listCheck(config.name, op);
        if (error) return error;
      }
      applyAlterConfigOp(next, resource.resourceType, {
        name: config.name,
        configOperation: op,
        value: config.value,
      });
    }
    return next;
  };
}

async function alterTopic(
  broker: BrokerContext,
  name: string,
  toNext: Change,
  validateOnly: boolean,
): Promise<ApiError> {
  return broker.exclusive(async () => {
    const topic = broker.metadata.topic(name);
    const next = toNext(topic?.configs ?? {});
    if (isError(next)) return next;
    if (name === '') return invalidRequest('Default topic resources are not allowed.');
    const illegal = validateTopicName(name);
    if (illegal !== undefined)
      return { errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION, errorMessage: illegal };
    const invalid = validateTopicConfigs(next, broker.brokerLogConfig());
    if (invalid) return invalid;
    if (topic === undefined) {
      return {
        errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
        errorMessage: `The topic '${name}' does not exist.`,
      };
    }
    if (!validateOnly) await broker.setTopicConfigs(name, next);
    return NONE;
  });
}

async function alterBroker(
  broker: BrokerContext,
  name: string,
  toNext: Change,
  validateOnly: boolean,
): Promise<ApiError> {
  const target = parseBrokerResourceName(name, broker.config.nodeId, {
    notInteger: 'Node id must be an integer, but it is: ',
    unexpected: 'Unexpected broker id, expected {id}, but received {name}',
  });
  if ('errorCode' in target) return target;
  return broker.exclusive(async () => {
    const dynamic = broker.dynamicBrokerConfigs();
    const current = target.perBroker ? dynamic.perBroker : dynamic.clusterDefault;
    const next = toNext(current);
    if (isError(next)) return next;
    const invalid = validateDynamicBrokerConfigs(broker.config, dynamic, next, target.perBroker);
    if (invalid) return invalid;
    if (!validateOnly) {
      await broker.setDynamicBrokerConfigs(
        target.perBroker ? { ...dynamic, perBroker: next } : { ...dynamic, clusterDefault: next },
      );
    }
    return NONE;
  });
}

/** Brook has no log4j loggers: any logger named is unknown (Kafka's INVALID_CONFIG). */
function alterBrokerLogger(broker: BrokerContext, resource: AlterResource): ApiError {
  const target = parseBrokerResourceName(resource.resourceName, broker.config.nodeId, {
    notInteger: 'Node id must be an integer, but it is: ',
    unexpected: 'Unexpected broker id, expected {id}, but received {name}',
  });
  if ('errorCode' in target) return target;
  if (!target.perBroker) return invalidRequest('Node id must be an integer, but it is: ');
  for (const config of resource.configs) {
    const op = config.configOperation ?? AlterConfigOp.set;
    if (op === AlterConfigOp.append || op === AlterConfigOp.subtract) {
      return invalidRequest(
        `${ALTER_CONFIG_OP_NAMES[op]} operation is not allowed for the BROKER_LOGGER resource`,
      );
    }
    return {
      errorCode: ErrorCode.INVALID_CONFIG,
      errorMessage: `Logger ${config.name} does not exist!`,
    };
  }
  return NONE;
}

/**
 * Applies AlterConfigs (`incremental` false) or IncrementalAlterConfigs to each resource; one
 * result per resource, in request order.
 */
export async function alterConfigs(
  broker: BrokerContext,
  resources: readonly AlterResource[],
  options: { validateOnly: boolean; incremental: boolean },
): Promise<AlterResult[]> {
  const { validateOnly, incremental } = options;
  const keys = resources.map((r) => `${r.resourceType}\0${r.resourceName}`);
  const results: AlterResult[] = [];
  for (const [index, resource] of resources.entries()) {
    const id = { resourceType: resource.resourceType, resourceName: resource.resourceName };
    if (keys.indexOf(keys[index]!) !== keys.lastIndexOf(keys[index]!)) {
      results.push({ ...id, ...invalidRequest('Each resource must appear at most once.') });
      continue;
    }
    let error = precheck(resource, incremental);
    if (error === undefined) {
      switch (resource.resourceType) {
        case ConfigResourceType.topic:
          error = await alterTopic(
            broker,
            resource.resourceName,
            change(resource, incremental, (name, op) =>
              isTopicListConfig(name)
                ? undefined
                : {
                    errorCode: ErrorCode.INVALID_CONFIG,
                    errorMessage: `Can't ${ALTER_CONFIG_OP_NAMES[op]} to key ${name} because its type is not LIST.`,
                  },
            ),
            validateOnly,
          );
          break;
        case ConfigResourceType.broker:
          error = await alterBroker(
            broker,
            resource.resourceName,
            change(resource, incremental, (name, op) =>
              isBrokerListConfig(name)
                ? undefined
                : invalidRequest(
                    `Config value ${op === AlterConfigOp.append ? 'append' : 'subtract'} is not allowed for config key: ${name}`,
                  ),
            ),
            validateOnly,
          );
          break;
        case ConfigResourceType.brokerLogger:
          error = incremental
            ? alterBrokerLogger(broker, resource)
            : invalidRequest(`Unknown resource type ${resource.resourceType}`);
          break;
        default:
          error = invalidRequest(`Unknown resource type ${resource.resourceType}`);
      }
    }
    results.push({ ...id, ...error });
  }
  return results;
}
