/**
 * What DescribeConfigs, AlterConfigs and IncrementalAlterConfigs share: Kafka's config enums
 * (resource types, config sources, config types, alter operations), the broker properties Brook
 * knows, the dynamic broker configs, and how an entry's value, source and synonyms are worked out.
 *
 * Sources and synonyms follow Kafka 3.9's `ConfigHelper`: an entry's synonyms are, in this order,
 * the topic override (for a topic), then each broker property that supplies it as a dynamic
 * per-broker config, a dynamic cluster-default config, a static config (the broker's properties)
 * and a default; the list starts at the first synonym named like the entry's own broker property
 * (Kafka's `dropWhile`). So a topic's `retention.ms` has the synonyms of `log.retention.ms` only
 * when `log.retention.ms` itself is set; when only `log.retention.hours` is, Kafka (and Brook)
 * report DEFAULT_CONFIG and no synonym, though the value comes from the hours.
 *
 * Dynamic broker configs: Brook applies changes to the broker defaults of topic configs (Kafka's
 * `DynamicLogConfig.ReconfigurableConfigs`: `log.retention.ms`, `log.segment.bytes`,
 * `log.cleanup.policy`, ...), per broker (resource name = node id) or cluster-wide (resource name
 * ""). Every other broker property is read-only and a change is refused with INVALID_REQUEST
 * ("Cannot update these configs dynamically: Set(...)"), as Kafka does for its static ones.
 */
import { ErrorCode } from '@brook/protocol';
import {
  formatLogConfigValue,
  isLogConfigName,
  LOG_CONFIG_DEFAULTS,
  LOG_CONFIG_NAMES,
  LOG_CONFIG_PROPERTIES,
  type LogConfig,
  type LogConfigName,
  type LogConfigProperty,
  parseBrokerLogConfig,
  parseLogConfig,
} from '@brook/storage';
import { BROKER_SETTINGS, type BrokerConfig, parseBrokerConfig } from './broker-config.ts';

// ---------------------------------------------------------------------------------------------
// Kafka's enums

/** ConfigResource.Type ids. */
export const ConfigResourceType = {
  unknown: 0,
  topic: 2,
  broker: 4,
  brokerLogger: 8,
  clientMetrics: 16,
  group: 32,
} as const;

/** DescribeConfigsResponse.ConfigSource ids. */
export const ConfigSource = {
  unknown: 0,
  /** Kafka's TOPIC_CONFIG (the admin client's DYNAMIC_TOPIC_CONFIG). */
  dynamicTopic: 1,
  dynamicBroker: 2,
  dynamicDefaultBroker: 3,
  staticBroker: 4,
  default: 5,
  dynamicBrokerLogger: 6,
  clientMetrics: 7,
  group: 8,
} as const;

/** DescribeConfigsResponse.ConfigType ids (DescribeConfigs v3+). */
export const ConfigType = {
  unknown: 0,
  boolean: 1,
  string: 2,
  int: 3,
  short: 4,
  long: 5,
  double: 6,
  list: 7,
  class: 8,
  password: 9,
} as const;

export type ConfigTypeName = Exclude<keyof typeof ConfigType, 'unknown'>;

/** IncrementalAlterConfigs' AlterConfigOp.OpType ids. */
export const AlterConfigOp = { set: 0, delete: 1, append: 2, subtract: 3 } as const;

/** How Kafka names an operation in its messages ("Can't APPEND to key ..."). */
export const ALTER_CONFIG_OP_NAMES: Readonly<Record<number, string>> = {
  [AlterConfigOp.set]: 'SET',
  [AlterConfigOp.delete]: 'DELETE',
  [AlterConfigOp.append]: 'APPEND',
  [AlterConfigOp.subtract]: 'SUBTRACT',
};

/** A Kafka error as a value: code and message (null: the response carries none). */
export interface ApiError {
  readonly errorCode: number;
  readonly errorMessage: string | null;
}

// ---------------------------------------------------------------------------------------------
// Broker properties

interface BrokerProperty {
  readonly name: string;
  readonly type: ConfigTypeName;
  readonly doc: string;
  /** Kafka's (or Brook's) default as a string; null when there is none. */
  readonly default: string | null;
  /** The value the running broker uses, when it is not simply the property as given. */
  readonly current?: (config: BrokerConfig) => string | null;
  /** Changeable with AlterConfigs/IncrementalAlterConfigs (applied at once). */
  readonly dynamic: boolean;
  /** The topic config this property is the broker default of. */
  readonly topicConfig?: LogConfigName;
}

/** Broker properties that default to nothing in Kafka (their fallback is another property). */
const NULL_DEFAULTS: ReadonlySet<string> = new Set([
  'log.retention.ms',
  'log.retention.minutes',
  'log.roll.ms',
  'log.roll.jitter.ms',
  'log.flush.interval.ms',
]);

/** Kafka keeps message.format.version out of the dynamic configs. */
const NOT_DYNAMIC: ReadonlySet<string> = new Set(['log.message.format.version']);

function buildBrokerProperties(): ReadonlyMap<string, BrokerProperty> {
  const defaults = parseBrokerConfig({});
  const properties = new Map<string, BrokerProperty>();
  for (const setting of BROKER_SETTINGS) {
    properties.set(setting.name, {
      name: setting.name,
      type: setting.type,
      doc: setting.doc,
      default: setting.value(defaults),
      current: setting.value,
      dynamic: false,
    });
  }
  for (const topicName of LOG_CONFIG_NAMES) {
    const property: LogConfigProperty = LOG_CONFIG_PROPERTIES[topicName];
    property.brokerSynonyms.forEach((synonym, index) => {
      if (properties.has(synonym.name)) return;
      const unit = synonym.unitMs === 3_600_000 ? 'hours' : synonym.unitMs ? 'minutes' : '';
      let fallback: string | null = formatLogConfigValue(topicName, LOG_CONFIG_DEFAULTS);
      if (NULL_DEFAULTS.has(synonym.name)) fallback = null;
      else if (synonym.unitMs !== undefined) {
        fallback = String((LOG_CONFIG_DEFAULTS[property.key] as number) / synonym.unitMs);
      }
      properties.set(synonym.name, {
        name: synonym.name,
        type: synonym.type ?? property.type,
        doc: `The broker default of the topic config ${topicName}${unit ? ` (in ${unit})` : ''}: ${property.doc}`,
        default: fallback,
        dynamic: index === 0 && !NOT_DYNAMIC.has(synonym.name),
        topicConfig: topicName,
      });
    });
  }
  return new Map([...properties].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Every broker property Brook knows, by name, sorted. */
export const BROKER_PROPERTIES: ReadonlyMap<string, BrokerProperty> = buildBrokerProperties();

/** The broker properties that AlterConfigs/IncrementalAlterConfigs may change. */
export const DYNAMIC_BROKER_PROPERTIES: ReadonlySet<string> = new Set(
  [...BROKER_PROPERTIES.values()].filter((p) => p.dynamic).map((p) => p.name),
);

/**
 * Kafka's `brokerConfigSynonyms`: the properties that set the same thing, highest precedence
 * first (`log.retention.ms`, `log.retention.minutes`, `log.retention.hours`).
 */
export function brokerConfigSynonyms(name: string): readonly string[] {
  switch (name) {
    case 'log.roll.ms':
    case 'log.roll.hours':
      return ['log.roll.ms', 'log.roll.hours'];
    case 'log.roll.jitter.ms':
    case 'log.roll.jitter.hours':
      return ['log.roll.jitter.ms', 'log.roll.jitter.hours'];
    case 'log.flush.interval.ms':
      return ['log.flush.interval.ms', 'log.flush.scheduler.interval.ms'];
    case 'log.retention.ms':
    case 'log.retention.minutes':
    case 'log.retention.hours':
      return ['log.retention.ms', 'log.retention.minutes', 'log.retention.hours'];
    default:
      return [name];
  }
}

// ---------------------------------------------------------------------------------------------
// Dynamic broker configs

/** Dynamic broker configs: this broker's own, and the cluster-wide defaults. */
export interface DynamicBrokerConfigs {
  readonly perBroker: Readonly<Record<string, string>>;
  readonly clusterDefault: Readonly<Record<string, string>>;
}

/**
 * In the metadata store's one map of broker configs, cluster-wide defaults carry this prefix
 * (no Kafka property name contains ':').
 */
const CLUSTER_DEFAULT_PREFIX = 'default:';

export function decodeDynamicBrokerConfigs(
  stored: Readonly<Record<string, string>>,
): DynamicBrokerConfigs {
  const perBroker: Record<string, string> = {};
  const clusterDefault: Record<string, string> = {};
  for (const [key, value] of Object.entries(stored)) {
    if (key.startsWith(CLUSTER_DEFAULT_PREFIX))
      clusterDefault[key.slice(CLUSTER_DEFAULT_PREFIX.length)] = value;
    else perBroker[key] = value;
  }
  return { perBroker, clusterDefault };
}

export function encodeDynamicBrokerConfigs(configs: DynamicBrokerConfigs): Record<string, string> {
  const stored: Record<string, string> = { ...configs.perBroker };
  for (const [key, value] of Object.entries(configs.clusterDefault))
    stored[`${CLUSTER_DEFAULT_PREFIX}${key}`] = value;
  return stored;
}

/**
 * The broker defaults of topic configs: static properties, overridden by the cluster-wide
 * dynamic configs, overridden by this broker's (Kafka's precedence).
 */
export function brokerLogConfig(config: BrokerConfig, dynamic: DynamicBrokerConfigs): LogConfig {
  if (Object.keys(dynamic.perBroker).length + Object.keys(dynamic.clusterDefault).length === 0)
    return config.log;
  return parseBrokerLogConfig({
    ...config.properties,
    ...dynamic.clusterDefault,
    ...dynamic.perBroker,
  }).config;
}

/**
 * Checks a new set of dynamic configs of one broker resource (`perBroker` for the node id,
 * else the cluster default), as Kafka's broker does before it forwards a change: only dynamic
 * properties, and values the broker would accept. Errors are INVALID_REQUEST, as in Kafka.
 */
export function validateDynamicBrokerConfigs(
  config: BrokerConfig,
  current: DynamicBrokerConfigs,
  next: Readonly<Record<string, string>>,
  perBroker: boolean,
): ApiError | undefined {
  const fixed = Object.keys(next)
    .filter((name) => !DYNAMIC_BROKER_PROPERTIES.has(name))
    .sort();
  if (fixed.length > 0) {
    return {
      errorCode: ErrorCode.INVALID_REQUEST,
      errorMessage: `Cannot update these configs dynamically: Set(${fixed.join(', ')})`,
    };
  }
  // The values themselves (only primary properties are dynamic, so they win over the static
  // synonyms), then with what they combine with (min.compaction.lag.ms against the max).
  const merged = perBroker
    ? { ...config.properties, ...current.clusterDefault, ...next }
    : { ...config.properties, ...next, ...current.perBroker };
  for (const properties of [{ ...config.properties, ...next }, merged]) {
    const [error] = parseBrokerLogConfig(properties).errors;
    if (error) return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: error.message };
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Describing configs

export interface ConfigSynonymEntry {
  readonly name: string;
  readonly value: string | null;
  readonly source: number;
}

/** One described config, before version-specific fields are chosen. */
export interface DescribedConfig {
  readonly name: string;
  readonly value: string | null;
  readonly readOnly: boolean;
  readonly source: number;
  readonly isSensitive: boolean;
  /** Empty unless synonyms were asked for. */
  readonly synonyms: readonly ConfigSynonymEntry[];
  readonly configType: number;
  /** Null unless documentation was asked for. */
  readonly documentation: string | null;
}

export interface DescribeOptions {
  /** Only these names (null or empty: every config). Unknown names are left out. */
  readonly keys: readonly string[] | null;
  readonly includeSynonyms: boolean;
  readonly includeDocumentation: boolean;
}

/** Where the broker's properties come from, for synonyms. */
interface BrokerSources {
  readonly config: BrokerConfig;
  readonly dynamic: DynamicBrokerConfigs;
}

/** Kafka's `configSynonyms`: every source of `names`, from the first named `name` on. */
function configSynonyms(
  name: string,
  names: readonly string[],
  sources: BrokerSources,
): ConfigSynonymEntry[] {
  const all: ConfigSynonymEntry[] = [];
  const layers: [Readonly<Record<string, string>>, number][] = [
    [sources.dynamic.perBroker, ConfigSource.dynamicBroker],
    [sources.dynamic.clusterDefault, ConfigSource.dynamicDefaultBroker],
    [sources.config.properties, ConfigSource.staticBroker],
  ];
  for (const [values, source] of layers) {
    for (const synonym of names) {
      const value = values[synonym];
      if (value !== undefined && Object.hasOwn(values, synonym))
        all.push({ name: synonym, value, source });
    }
  }
  for (const synonym of names) {
    const fallback = BROKER_PROPERTIES.get(synonym)?.default;
    if (fallback !== undefined && fallback !== null)
      all.push({ name: synonym, value: fallback, source: ConfigSource.default });
  }
  const start = all.findIndex((synonym) => synonym.name === name);
  return start < 0 ? [] : all.slice(start);
}

function wanted(keys: readonly string[] | null, name: string): boolean {
  return keys === null || keys.length === 0 || keys.includes(name);
}

/** Every topic config of a topic with its value, source, synonyms, type and documentation. */
export function describeTopicConfigs(
  sources: BrokerSources & {
    readonly overrides: Readonly<Record<string, string>>;
    readonly effective: LogConfig;
  },
  options: DescribeOptions,
): DescribedConfig[] {
  const described: DescribedConfig[] = [];
  for (const name of LOG_CONFIG_NAMES) {
    if (!wanted(options.keys, name)) continue;
    const property: LogConfigProperty = LOG_CONFIG_PROPERTIES[name];
    const value = formatLogConfigValue(name, sources.effective);
    const primary = property.brokerSynonyms[0]?.name;
    const synonyms =
      primary === undefined ? [] : configSynonyms(primary, brokerConfigSynonyms(primary), sources);
    if (Object.hasOwn(sources.overrides, name))
      synonyms.unshift({ name, value, source: ConfigSource.dynamicTopic });
    described.push({
      name,
      value,
      readOnly: false,
      source: synonyms[0]?.source ?? ConfigSource.default,
      isSensitive: false,
      synonyms: options.includeSynonyms ? synonyms : [],
      configType: ConfigType[property.type],
      documentation: options.includeDocumentation ? property.doc : null,
    });
  }
  return described;
}

/** A broker property's own value: dynamic per broker, cluster default, static, default. */
function brokerValue(property: BrokerProperty, sources: BrokerSources): string | null {
  const { perBroker, clusterDefault } = sources.dynamic;
  if (Object.hasOwn(perBroker, property.name)) return perBroker[property.name] ?? null;
  if (Object.hasOwn(clusterDefault, property.name)) return clusterDefault[property.name] ?? null;
  if (property.current) return property.current(sources.config);
  const given = sources.config.properties[property.name];
  if (given !== undefined && Object.hasOwn(sources.config.properties, property.name))
    return given.trim();
  return property.default;
}

/**
 * The configs of a broker resource: for this broker (`perBroker`), every property Brook knows;
 * for the cluster default (resource name ""), only the cluster-wide dynamic configs that are set,
 * with only their cluster-default synonyms (Kafka's behaviour).
 */
export function describeBrokerConfigs(
  sources: BrokerSources,
  perBroker: boolean,
  options: DescribeOptions,
): DescribedConfig[] {
  const names = perBroker
    ? [...BROKER_PROPERTIES.keys()]
    : Object.keys(sources.dynamic.clusterDefault).sort();
  const described: DescribedConfig[] = [];
  for (const name of names) {
    if (!wanted(options.keys, name)) continue;
    const property = BROKER_PROPERTIES.get(name);
    const synonyms = configSynonyms(name, brokerConfigSynonyms(name), sources).filter(
      (synonym) => perBroker || synonym.source === ConfigSource.dynamicDefaultBroker,
    );
    described.push({
      name,
      value: perBroker
        ? property
          ? brokerValue(property, sources)
          : null
        : (sources.dynamic.clusterDefault[name] ?? null),
      readOnly: !DYNAMIC_BROKER_PROPERTIES.has(name),
      source: synonyms[0]?.source ?? ConfigSource.default,
      isSensitive: false,
      synonyms: options.includeSynonyms ? synonyms : [],
      configType: property ? ConfigType[property.type] : ConfigType.unknown,
      documentation: options.includeDocumentation ? (property?.doc ?? null) : null,
    });
  }
  return described;
}

// ---------------------------------------------------------------------------------------------
// Altering configs

/**
 * Checks a topic's complete set of overrides as Kafka's controller does (`LogConfig.validate`):
 * unknown names first ("Unknown topic config name: x"), then values; INVALID_CONFIG with the
 * reason. `base` is the broker's defaults, which the values are combined with.
 */
export function validateTopicConfigs(
  configs: Readonly<Record<string, string>>,
  base: LogConfig,
): ApiError | undefined {
  const unknown = Object.keys(configs).find((name) => !isLogConfigName(name));
  if (unknown !== undefined) {
    return {
      errorCode: ErrorCode.INVALID_CONFIG,
      errorMessage: `Unknown topic config name: ${unknown}`,
    };
  }
  const [error] = parseLogConfig(configs, base).errors;
  if (error) return { errorCode: ErrorCode.INVALID_CONFIG, errorMessage: error.message };
  return undefined;
}

/** Whether a topic config is a list (APPEND and SUBTRACT apply to lists only). */
export function isTopicListConfig(name: string): boolean {
  return isLogConfigName(name) && LOG_CONFIG_PROPERTIES[name].type === 'list';
}

/** Whether a broker property is a list. */
export function isBrokerListConfig(name: string): boolean {
  return BROKER_PROPERTIES.get(name)?.type === 'list';
}

/** A config's default as Kafka's ConfigDef gives it (APPEND/SUBTRACT start from it). */
export function configDefault(resourceType: number, name: string): string | null {
  if (resourceType === ConfigResourceType.topic)
    return isLogConfigName(name) ? formatLogConfigValue(name, LOG_CONFIG_DEFAULTS) : null;
  return BROKER_PROPERTIES.get(name)?.default ?? null;
}

/** Kafka's list parts of a value: split on ',', empty parts dropped. */
function parts(value: string | null): string[] {
  return value === null ? [] : value.split(',').filter((part) => part !== '');
}

/**
 * Applies one incremental operation to a resource's configs (Kafka's controller semantics):
 * SET, DELETE, APPEND (adds values not already there) and SUBTRACT (removes each value once),
 * the last two starting from the default when the config is not set.
 */
export function applyAlterConfigOp(
  configs: Record<string, string>,
  resourceType: number,
  op: { name: string; configOperation: number; value: string | null },
): void {
  switch (op.configOperation) {
    case AlterConfigOp.set:
      configs[op.name] = op.value ?? '';
      return;
    case AlterConfigOp.delete:
      delete configs[op.name];
      return;
    default: {
      const current = Object.hasOwn(configs, op.name)
        ? (configs[op.name] ?? null)
        : configDefault(resourceType, op.name);
      const list = parts(current);
      for (const value of (op.value ?? '').split(',')) {
        if (op.configOperation === AlterConfigOp.append) {
          if (!list.includes(value)) list.push(value);
        } else {
          const index = list.indexOf(value);
          if (index >= 0) list.splice(index, 1);
        }
      }
      configs[op.name] = list.join(',');
    }
  }
}

/**
 * The resource name of a broker resource: undefined for "" (the cluster default), the node id,
 * or the error Kafka answers ("Node id must be an integer", "Unexpected broker id").
 */
export function parseBrokerResourceName(
  name: string,
  nodeId: number,
  messages: { notInteger: string; unexpected: string },
): { perBroker: boolean } | ApiError {
  if (name === '') return { perBroker: false };
  const id = /^[+-]?\d+$/.test(name) ? Number(name) : Number.NaN;
  if (!Number.isSafeInteger(id) || id < -2147483648 || id > 2147483647) {
    return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `${messages.notInteger}${name}` };
  }
  if (id !== nodeId) {
    return {
      errorCode: ErrorCode.INVALID_REQUEST,
      errorMessage: messages.unexpected.replace('{id}', String(nodeId)).replace('{name}', name),
    };
  }
  return { perBroker: true };
}
